/**
 * The offline provider: deterministic answers derived from the prompt by documented rules, so braid runs
 * and tests without a network. Every result says `provider: "offline"`.
 *
 * Rules (docs/models.md, "Offline provider rules"):
 * 1. Text: the prompt's `offline` template rendered with the call's variables, else `[offline] ` + the
 *    first 200 characters of the last user message.
 * 2. Structured output: the `offline` template parsed as JSON, then every required schema field that is
 *    missing or null is filled: enums by rule 4, numbers named score/confidence by rule 3, other numbers 0,
 *    strings from the text, booleans `score >= 0.5`, arrays `[]` (an optional field the template leaves out stays
 *    out, so its default applies). The object is then validated like any answer.
 * 3. Score of a text (0..1): an explicit `"score": x` (or `score: x`, `x/10`) in it wins; else a stable
 *    hash of the text gives 0.30..0.69, plus 0.1 per positive and minus 0.1 per negative word, clamped.
 * 4. Label from candidates: when they include a positive (good, yes, approve, pass, ...) and a negative
 *    (bad, no, reject, fail, ...) label, score >= 0.5 picks the positive one; otherwise the candidate
 *    named most often in the text, ties broken by the hash.
 * 5. Tool calls: the function whose name and description share the most words with the last user
 *    message is called, when the match is good: a word of its name is shared, or at least two words of its
 *    description (words of 3+ letters, common ones like "the" ignored); otherwise nothing is called, so the
 *    caller can say that nothing fits. Arguments: `key: value` wins; a topic-like string parameter
 *    takes the phrase after "about"/"on"; a recipient-like one the first email address; a required string
 *    still missing takes the `"quoted"` text, else the whole message (see `extractArguments`).
 * 6. Usage: tokens are 4 characters (at least 1); completion tokens are counted up to the request's `maxTokens`, as a
 *    real model stops there. The answer is kept whole: offline answers repeat their input, and cutting them would
 *    only break offline runs.
 */
import type { JsonSchema } from '../core/schema.js';
import { schemaToJsonSchema } from '../core/schema.js';
import { parseStructured } from './structured.js';
import type { FunctionSpec, GenerateRequest, GenerateResult, LlmProvider, ToolCall } from './types.js';

const POSITIVE = [
  'specific',
  'concrete',
  'measurable',
  'clear',
  'feasible',
  'practical',
  'innovative',
  'novel',
  'useful',
  'strong',
  'excellent',
  'great',
  'good',
  'focused',
  'improved',
];
const NEGATIVE = [
  'vague',
  'unclear',
  'generic',
  'boring',
  'risky',
  'impractical',
  'weak',
  'poor',
  'bad',
  'fails',
  'error',
  'broken',
  'unfocused',
  'expensive',
];
/** The words rule 3 counts (exported so tests can check that no offline template is written to sway it). */
export const SCORE_WORDS: { readonly positive: readonly string[]; readonly negative: readonly string[] } = {
  positive: POSITIVE,
  negative: NEGATIVE,
};
const POSITIVE_LABELS = [
  'good',
  'yes',
  'approve',
  'approved',
  'pass',
  'positive',
  'ok',
  'valid',
  'accept',
  'high',
  'true',
  'success',
];
const NEGATIVE_LABELS = [
  'bad',
  'no',
  'reject',
  'rejected',
  'fail',
  'negative',
  'invalid',
  'low',
  'false',
  'retry',
  'failure',
];

export function hashText(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const words = (text: string) => text.toLowerCase().match(/[a-z0-9_]+/g) ?? [];

export function textScore(raw: string): number {
  const text = raw.replace(/\\"/g, '"'); // JSON embedded in JSON strings
  const explicit = explicitScore(text);
  if (explicit) {
    const v = Number(explicit[1]);
    return Math.max(0, Math.min(1, /\/\s*10/.test(explicit[0]) || v > 1 ? v / 10 : v));
  }
  const ws = words(text);
  const delta = ws.filter((w) => POSITIVE.includes(w)).length - ws.filter((w) => NEGATIVE.includes(w)).length;
  const base = 0.3 + (hashText(text) % 40) / 100;
  return Math.round(Math.max(0, Math.min(1, base + 0.1 * delta)) * 100) / 100;
}

/** Why rule 4 picks the label it picks, quoting what decided (the score, or how often each label is named). */
export function explainLabel(labels: readonly string[], text: string): string {
  const label = pickLabel(labels, text);
  const pos = labels.find((l) => POSITIVE_LABELS.includes(l.toLowerCase()));
  const neg = labels.find((l) => NEGATIVE_LABELS.includes(l.toLowerCase()));
  if (pos && neg) {
    const score = textScore(text);
    const from = explicitScore(text.replace(/\\"/g, '"')) ? 'given in the output' : 'from the wording of the output';
    return `offline provider rule: score ${score} (${from}) is ${score >= 0.5 ? 'at least' : 'below'} 0.5, so "${label}", not "${label === pos ? neg : pos}"`;
  }
  const ws = words(text);
  const named = ws.filter((w) => w === label.toLowerCase()).length;
  return named
    ? `offline provider rule: "${label}" is the candidate the output names most often (${named} time${named === 1 ? '' : 's'})`
    : `offline provider rule: the output names none of ${labels.map((l) => `"${l}"`).join(', ')}; "${label}" by a stable hash of the text`;
}

const explicitScore = (text: string) =>
  /"?score"?\s*[:=]?\s*(-?\d+(?:\.\d+)?)/i.exec(text) ?? /\b(\d+(?:\.\d+)?)\s*\/\s*10\b/.exec(text);

export function pickLabel(labels: readonly string[], text: string): string {
  const pos = labels.find((l) => POSITIVE_LABELS.includes(l.toLowerCase()));
  const neg = labels.find((l) => NEGATIVE_LABELS.includes(l.toLowerCase()));
  if (pos && neg) return textScore(text) >= 0.5 ? pos : neg;
  const ws = words(text);
  const counts = labels.map((l) => ws.filter((w) => w === l.toLowerCase()).length);
  const best = Math.max(...counts);
  const top = labels.filter((_, i) => counts[i] === best);
  return top[hashText(text) % top.length];
}

function fillFromSchema(schema: JsonSchema, value: unknown, text: string, key = ''): unknown {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (Array.isArray(schema.enum)) {
    const options = (schema.enum as unknown[]).filter((e): e is string => typeof e === 'string');
    return typeof value === 'string' && options.includes(value) ? value : pickLabel(options, text);
  }
  if (value !== undefined && value !== null) {
    if (type !== 'object' || typeof value !== 'object') return value;
  }
  if (Array.isArray(schema.anyOf)) {
    const first = (schema.anyOf as JsonSchema[]).find((s) => s.type !== 'null');
    return first ? fillFromSchema(first, value, text, key) : null;
  }
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = (schema.required as string[] | undefined) ?? [];
      const obj = { ...((value as Record<string, unknown>) ?? {}) };
      // A label picked by rule 4 with no reason given: the reason says what decided it.
      const picked = Object.entries(props).find(
        ([k, p]) => Array.isArray(p.enum) && !(p.enum as unknown[]).includes(obj[k]) && (p.enum as unknown[]).length,
      );
      const reason = obj.reason === undefined || obj.reason === null;
      for (const [k, s] of Object.entries(props))
        if (required.includes(k) || obj[k] !== undefined) obj[k] = fillFromSchema(s, obj[k], text, k);
      if (picked && reason && props.reason?.type === 'string') {
        const options = (picked[1].enum as unknown[]).filter((e): e is string => typeof e === 'string');
        obj.reason = explainLabel(options, text);
      }
      return obj;
    }
    case 'number':
    case 'integer':
      return /score|confidence|probability/i.test(key) ? textScore(text) : 0;
    case 'boolean':
      return textScore(text) >= 0.5;
    case 'array':
      return [];
    case 'string':
      return text.slice(0, 200);
    default:
      return null;
  }
}

/** Words too common to tell tools apart. */
const STOP_WORDS = new Set([
  'the',
  'and',
  'then',
  'for',
  'with',
  'about',
  'what',
  'this',
  'that',
  'from',
  'into',
  'your',
  'you',
  'are',
  'its',
  'run',
  'can',
  'how',
  'please',
  'some',
  'any',
  'all',
  'one',
  'not',
  'but',
  'was',
  'has',
  'have',
  'who',
  'why',
  'when',
  'where',
  'which',
  'let',
  'lets',
]);

function chooseTool(tools: readonly FunctionSpec[], message: string): ToolCall | undefined {
  const said = new Set(words(message).filter((w) => w.length > 2 && !STOP_WORDS.has(w)));
  const shared = (text: string) => new Set(words(text).filter((w) => w.length > 2 && said.has(w)));
  let best: { tool: FunctionSpec; score: number } | undefined;
  for (const tool of tools) {
    const inName = shared(tool.name.replace(/_/g, ' '));
    const all = new Set([...inName, ...shared(tool.description)]);
    // A good match: a word of the name, or two words of the description (one shared word is chance).
    const score = inName.size > 0 || all.size >= 2 ? all.size + inName.size : 0;
    if (score > 0 && (!best || score > best.score)) best = { tool, score };
  }
  if (!best) return undefined;
  return {
    id: `call_offline_${hashText(message + best.tool.name).toString(36)}`,
    name: best.tool.name,
    arguments: extractArguments(best.tool.parameters, message),
  };
}

const TOPIC_KEYS = /^(topic|subject|query|about|goal|question|theme|idea|text|prompt)$/i;
const ADDRESS_KEYS = /^(to|recipient|email|address)$/i;

/**
 * Rule 5's arguments: `key: value` (or `key=value`) wins; a topic-like string parameter takes the phrase after
 * "about"/"on"; a recipient-like one takes the first email address; a required string still missing takes
 * the quoted text, else the whole message. Anything else is left to the schema's defaults.
 */
export function extractArguments(parameters: JsonSchema, message: string): Record<string, unknown> {
  const props = (parameters.properties ?? {}) as Record<string, JsonSchema>;
  const required = (parameters.required as string[] | undefined) ?? [];
  const args: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props)) {
    const kv = new RegExp(`\\b${k}\\s*[:=]\\s*("([^"]*)"|([^,;\\n]+))`, 'i').exec(message);
    if (kv) {
      args[k] = (kv[2] ?? kv[3]).trim();
      continue;
    }
    if (s.type !== 'string') continue;
    const topic = TOPIC_KEYS.test(k)
      ? /\b(?:about|on|regarding)\s+(.+?)(?:\s+(?:to|for|and then|then)\s+|[.,;!?]|$)/i.exec(message)
      : null;
    const email = ADDRESS_KEYS.test(k) || s.format === 'email' ? /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/.exec(message) : null;
    if (topic) args[k] = topic[1].trim();
    else if (email) args[k] = email[0];
    else if (required.includes(k)) {
      const quoted = /"([^"]+)"/.exec(message);
      args[k] = quoted ? quoted[1] : message;
    }
  }
  return args;
}

const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

/** The model without a network: deterministic answers from the request, for trying workflows and tests. @public */
export class OfflineProvider implements LlmProvider {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'offline';
  readonly model = 'offline';

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (request.signal?.aborted) throw request.signal.reason ?? new Error('aborted');
    const lastUser = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const promptText = request.messages.map((m) => m.content ?? '').join('\n');
    let text = request.offlineAnswer ?? `[offline] ${lastUser.slice(0, 200)}`;
    let object: unknown;
    const toolCalls: ToolCall[] = [];
    if (request.schema) {
      let seed: unknown;
      try {
        seed = request.offlineAnswer ? JSON.parse(request.offlineAnswer) : undefined;
      } catch {
        seed = undefined; // an offline answer that is not JSON: the answer is generated from the schema alone
      }
      const json = request.schema.jsonSchema ?? schemaToJsonSchema(request.schema.schema);
      // The plain schema, not the strict one sent to a real model: rule 2 leaves optional fields to their defaults.
      const basis = request.offlineAnswer ?? lastUser;
      text = JSON.stringify(fillFromSchema(json, seed, basis));
      object = parseStructured(request.schema.schema, text, 'offline');
    } else if (request.tools?.length && request.messages.at(-1)?.role === 'user') {
      const call = chooseTool(request.tools, lastUser);
      if (call) {
        toolCalls.push(call);
        text = '';
      }
    }
    const promptTokens = tokens(promptText);
    // Rule 6: never more than the request allows, like a real model (the answer itself is kept whole).
    const completionTokens = Math.min(tokens(text), request.maxTokens ?? Infinity);
    return {
      text,
      object,
      toolCalls,
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      provider: this.provider,
      model: this.model,
    };
  }
}
