/** `--input key=value` pairs into an object, typed by the workflow's `inputs` schema when it has one. */
import { readFile } from 'node:fs/promises';
import { BraidError } from '../errors.js';

/** The run input of `--input-file` and `--input` pairs (the pairs win). */
export async function readRunInput(
  flags: { input?: string[]; inputFile?: string },
  inputsSchema?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const fromFile = flags.inputFile ? await readInputFile(flags.inputFile) : {};
  return { ...fromFile, ...parseInputPairs(flags.input ?? [], inputsSchema) };
}

export function parseInputPairs(
  pairs: readonly string[],
  inputsSchema?: Record<string, unknown>,
): Record<string, unknown> {
  const props = (inputsSchema?.properties ?? {}) as Record<string, { type?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BraidError('E_BAD_ARGUMENT', `--input expects key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    out[key] = props[key]?.type === 'string' ? raw : parseLoose(raw, props[key] !== undefined);
  }
  return out;
}

/** JSON when it parses (numbers, booleans, arrays, objects); a plain string otherwise. */
function parseLoose(raw: string, declared: boolean): unknown {
  if (!declared && !/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(raw.trim())) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw; // not JSON: the text itself is the value
  }
}

async function readInputFile(file: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BraidError('E_INPUT', `${file}: cannot read input: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new BraidError('E_INPUT', `${file}: input must be a JSON object`);
  return value as Record<string, unknown>;
}

/** `braid approve --edit file.json`: the edited input, any JSON value. */
export async function readEditFile(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BraidError('E_BAD_ARGUMENT', `--edit ${file}: cannot read an edited input: ${(err as Error).message}`);
  }
}
