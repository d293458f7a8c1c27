/**
 * Prompt templates as files in `prompts/`: YAML front matter (`description`, `variables`, optional `max_tokens`,
 * the most completion tokens its answer needs, and optional `offline` answer template) and `# system` / `# user`
 * sections with `{{variable}}` placeholders.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type * as Yaml from 'yaml';
import { lazy } from '../core/lazy.js';
import { BraidError } from '../errors.js';
import { packagePath } from '../paths.js';
import type { ChatMessage } from './types.js';

/** Loaded by the first prompt file read. */
const yaml = lazy<typeof Yaml>('yaml');

export interface PromptTemplate {
  readonly name: string;
  readonly description: string;
  readonly variables: readonly string[];
  readonly system: string;
  readonly user: string;
  /** The offline provider's deterministic answer (text or JSON), with the same variables. */
  readonly offline?: string;
  /** The `maxTokens` of a request rendered from it (a task's `max_tokens` overrides it). */
  readonly maxTokens?: number;
  /** The SHA-256 (hex) of the file's text: the record names the template a model call was rendered from. */
  readonly hash: string;
}

const VAR_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function parsePrompt(name: string, text: string): PromptTemplate {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!m) throw new BraidError('E_CONFIG', `prompts/${name}.md: missing front matter (--- ... ---)`);
  const meta = (yaml().parse(m[1]) ?? {}) as {
    description?: string;
    variables?: string[];
    offline?: string;
    max_tokens?: unknown;
  };
  const maxTokens = meta.max_tokens;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1))
    throw new BraidError('E_CONFIG', `prompts/${name}.md: max_tokens must be an integer of at least 1`);
  const sections = Object.fromEntries(
    m[2]
      .split(/^# /m)
      .filter(Boolean)
      .map((s) => {
        const nl = s.indexOf('\n');
        return [s.slice(0, nl).trim().toLowerCase(), s.slice(nl + 1).trim()];
      }),
  ) as Record<string, string>;
  const prompt: PromptTemplate = {
    name,
    description: meta.description ?? '',
    variables: meta.variables ?? [],
    system: sections.system ?? '',
    user: sections.user ?? '',
    offline: meta.offline,
    ...(maxTokens === undefined ? {} : { maxTokens: maxTokens as number }),
    hash: createHash('sha256').update(text).digest('hex'),
  };
  if (!prompt.user) throw new BraidError('E_CONFIG', `prompts/${name}.md: no "# user" section`);
  const used = new Set(
    [...`${prompt.system}\n${prompt.user}\n${prompt.offline ?? ''}`.matchAll(VAR_RE)].map((v) => v[1]),
  );
  const undeclared = [...used].filter((v) => !prompt.variables.includes(v));
  if (undeclared.length)
    throw new BraidError(
      'E_CONFIG',
      `prompts/${name}.md: uses undeclared variables ${undeclared.join(', ')}; list them under "variables"`,
    );
  return prompt;
}

const cache = new Map<string, PromptTemplate>();

export function promptsDir(): string {
  return process.env.BRAID_PROMPTS ?? packagePath('prompts');
}

export function loadPrompt(name: string): PromptTemplate {
  let p = cache.get(name);
  if (!p) {
    const file = join(promptsDir(), `${name}.md`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new BraidError('E_CONFIG', `prompt "${name}" not found at ${file}`);
    }
    p = parsePrompt(name, text);
    cache.set(name, p);
  }
  return p;
}

/** Load and check every template in prompts/ (run at start so a broken file fails fast). */
export function loadAllPrompts(): PromptTemplate[] {
  return readdirSync(promptsDir())
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .map((f) => loadPrompt(basename(f, '.md')));
}

function fill(template: string, vars: Readonly<Record<string, unknown>>, encode: (v: unknown) => string): string {
  return template.replace(VAR_RE, (_, k: string) => encode(vars[k]));
}

const asText = (v: unknown) =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2);

export function renderPrompt(
  prompt: PromptTemplate,
  vars: Readonly<Record<string, unknown>>,
): { messages: ChatMessage[]; offlineAnswer?: string; maxTokens?: number } {
  const missing = prompt.variables.filter((v) => !(v in vars));
  if (missing.length) throw new BraidError('E_CONFIG', `prompt "${prompt.name}" needs variables ${missing.join(', ')}`);
  const messages: ChatMessage[] = [];
  if (prompt.system) messages.push({ role: 'system', content: fill(prompt.system, vars, asText) });
  messages.push({ role: 'user', content: fill(prompt.user, vars, asText) });
  // Offline answers that are JSON get JSON-escaped values.
  const offline = prompt.offline?.trim();
  const offlineAnswer =
    offline === undefined
      ? undefined
      : offline.startsWith('{') && !offline.startsWith('{{')
        ? fill(offline, vars, (v) => JSON.stringify(asText(v)).slice(1, -1))
        : fill(offline, vars, asText);
  return {
    messages,
    ...(offlineAnswer !== undefined ? { offlineAnswer } : {}),
    ...(prompt.maxTokens === undefined ? {} : { maxTokens: prompt.maxTokens }),
  };
}
