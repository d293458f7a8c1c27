/**
 * A task's effective input (workflow-spec.md §5a), lowest precedence first: the tool's defaults (zod
 * applies them), run inputs named like the tool's fields, the outputs of its upstreams that succeeded
 * (merged by field name in dependency order, or the tool's own `upstream` mapping), and last the explicit
 * `input`, which always wins, field by field at the top level. Skipped or failed upstreams give nothing.
 */
import { isRecord } from '../core/is-record.js';
import type { TaskSpec } from '../spec/schema.js';
import { inputFieldsOf } from '../toolkit/schema-fields.js';
import type { Sourced, Tool, UpstreamMapping, UpstreamOutput } from '../toolkit/types.js';

/** What a task may take beyond its explicit input; compiled once per task. */
export interface ImplicitInput {
  /** Tool input fields the explicit input does not give, in schema order. */
  readonly open: readonly string[];
  readonly openSet: ReadonlySet<string>;
  /** Fields the tool's schema defaults (reported as `default` when nothing else gives them). */
  readonly defaulted: ReadonlySet<string>;
  readonly mapping?: UpstreamMapping;
}

/**
 * Where each field of an effective input came from: `explicit`, `default`, `input.<name>`, `tasks.<id>.output.<field>`.
 */
export type InputSources = Record<string, string>;

/** Undefined when the explicit input decides everything (a whole-input template, or every field given). */
export function implicitInputOf(spec: TaskSpec, tool: Tool): ImplicitInput | undefined {
  if (spec.input !== undefined && !isRecord(spec.input)) return undefined;
  const given = spec.input ?? {};
  const fields = inputFieldsOf(tool);
  const open = fields.all.filter((f) => !Object.hasOwn(given, f));
  if (open.length === 0) return undefined;
  return {
    open,
    openSet: new Set(open),
    defaulted: fields.defaulted,
    ...(tool.upstream ? { mapping: tool.upstream } : {}),
  };
}

/** Upstream fields merged by name: a later upstream (in dependency order) wins. */
export function mergeByName(open: readonly string[], upstreams: readonly UpstreamOutput[]): Record<string, Sourced> {
  const taken: Record<string, Sourced> = {};
  for (const u of upstreams) {
    if (!isRecord(u.output)) continue;
    for (const f of open)
      if (Object.hasOwn(u.output, f) && u.output[f] !== undefined && u.output[f] !== null)
        taken[f] = { value: u.output[f], from: `tasks.${u.taskId}.output.${f}` };
  }
  return taken;
}

/**
 * The effective input and, when anything beyond the explicit input was used, where each field came from.
 * `explicit` is the rendered `input` (an object when `implicit` exists).
 */
export function effectiveInput(
  implicit: ImplicitInput,
  explicit: unknown,
  runInput: unknown,
  upstreams: readonly UpstreamOutput[],
): { input: unknown; sources?: InputSources } {
  const given = isRecord(explicit) ? explicit : {};
  const taken: Record<string, Sourced> = {};
  if (isRecord(runInput)) {
    for (const f of implicit.open)
      if (Object.hasOwn(runInput, f) && runInput[f] !== undefined)
        taken[f] = { value: runInput[f], from: `input.${f}` };
  }
  const fromUpstreams = implicit.mapping ? implicit.mapping.take(upstreams) : mergeByName(implicit.open, upstreams);
  for (const [f, v] of Object.entries(fromUpstreams))
    if (implicit.openSet.has(f) && v.value !== undefined) taken[f] = v;
  const names = Object.keys(taken);
  if (names.length === 0) return { input: explicit };
  const input: Record<string, unknown> = {};
  const sources: InputSources = {};
  for (const f of names) ((input[f] = taken[f].value), (sources[f] = taken[f].from));
  for (const f of Object.keys(given)) ((input[f] = given[f]), (sources[f] = 'explicit'));
  for (const f of implicit.defaulted) if (!(f in sources)) sources[f] = 'default';
  return { input, sources };
}
