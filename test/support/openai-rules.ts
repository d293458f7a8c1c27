/**
 * The request rules of OpenAI's Chat Completions API that the loopback server enforces, written from the API's
 * documentation and its error bodies (not from braid's own schema code, so a braid bug cannot hide here):
 *
 * - unknown request parameters are refused ("Unrecognized request argument supplied: x");
 * - `max_completion_tokens` and `max_tokens` are integers of at least 1, and reasoning models (o1, o3, o4, gpt-5)
 *   refuse `max_tokens` ("Use 'max_completion_tokens' instead");
 * - message shapes per role; an assistant message with `tool_calls` must be followed by a tool message for each
 *   call id, and a tool message must answer such a call;
 * - `response_format` and `tools[].function` shapes; function parameters are an object schema with `properties`;
 * - with `strict: true`, Structured Outputs' schema subset: the root is an object (not `anyOf`); every object sets
 *   `additionalProperties: false` and lists every key of `properties` in `required`; only supported keywords and
 *   string formats; arrays have `items`; `$ref` stands alone and resolves locally; at most 10 levels of nested
 *   objects, 5000 properties and 1000 enum values.
 *
 * Each check returns the API's 400 error body, or undefined when the request is acceptable.
 */
export interface ApiError {
  readonly error: { message: string; type: string; param: string | null; code: string | null };
}

const invalid = (message: string, param: string | null = null, code: string | null = null): ApiError => ({
  error: { message, type: 'invalid_request_error', param, code },
});

const REQUEST_KEYS = new Set([
  'model',
  'messages',
  'temperature',
  'top_p',
  'n',
  'stream',
  'stream_options',
  'stop',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'user',
  'seed',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'service_tier',
  'store',
  'metadata',
  'reasoning_effort',
  'modalities',
  'audio',
  'prediction',
  'web_search_options',
  'verbosity',
  'prompt_cache_key',
  'safety_identifier',
  'functions',
  'function_call',
]);
const MESSAGE_KEYS: Record<string, Set<string>> = {
  system: new Set(['role', 'content', 'name']),
  developer: new Set(['role', 'content', 'name']),
  user: new Set(['role', 'content', 'name']),
  assistant: new Set(['role', 'content', 'name', 'tool_calls', 'refusal', 'audio', 'function_call']),
  tool: new Set(['role', 'content', 'tool_call_id']),
};
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkRequest(body: unknown): ApiError | undefined {
  if (!isObj(body)) return invalid('We could not parse the JSON body of your request.');
  for (const k of Object.keys(body))
    if (!REQUEST_KEYS.has(k)) return invalid(`Unrecognized request argument supplied: ${k}`);
  if (typeof body.model !== 'string' || !body.model) return invalid('you must provide a model parameter');
  if (
    body.temperature !== undefined &&
    (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 2)
  )
    return invalid(
      `Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got ${JSON.stringify(body.temperature)} instead.`,
      'temperature',
      'decimal_above_max_value',
    );
  return (
    checkMaxTokens(body) ??
    checkMessages(body.messages) ??
    checkResponseFormat(body.response_format) ??
    checkTools(body.tools)
  );
}

/** A reasoning model: `max_tokens` is not supported, only `max_completion_tokens`. */
const REASONING_MODEL = /^(o\d|gpt-5)/;

function checkMaxTokens(body: Json): ApiError | undefined {
  for (const k of ['max_completion_tokens', 'max_tokens']) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v))
      return invalid(`Invalid type for '${k}': expected an integer, but got ${typeof v} instead.`, k, 'invalid_type');
    if (v < 1)
      return invalid(
        `Invalid '${k}': integer below minimum value. Expected a value >= 1, but got ${v} instead.`,
        k,
        'integer_below_min_value',
      );
  }
  if (body.max_tokens !== undefined && body.max_tokens !== null && REASONING_MODEL.test(body.model as string))
    return invalid(
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      'max_tokens',
      'unsupported_parameter',
    );
  return undefined;
}

function checkMessages(messages: unknown): ApiError | undefined {
  if (!Array.isArray(messages) || messages.length === 0)
    return invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  let open: string[] = [];
  for (const [i, m] of messages.entries()) {
    const at = `messages.[${i}]`;
    if (!isObj(m) || typeof m.role !== 'string' || !MESSAGE_KEYS[m.role])
      return invalid(
        `Invalid value: '${isObj(m) ? String(m.role) : m}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`,
        `${at}.role`,
        'invalid_value',
      );
    for (const k of Object.keys(m))
      if (!MESSAGE_KEYS[m.role].has(k))
        return invalid(`Additional properties are not allowed ('${k}' was unexpected) - '${at}'`, at);
    if (open.length && m.role !== 'tool')
      return invalid(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${open.join(', ')}`,
        `${at}.role`,
      );
    const hasCalls = m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
    if (typeof m.content !== 'string' && !(m.content === null && hasCalls))
      return invalid(
        `Invalid type for '${at}.content': expected one of a string or array of objects, but got ${m.content === null ? 'null' : typeof m.content} instead.`,
        `${at}.content`,
        'invalid_type',
      );
    if (m.role === 'tool') {
      if (!open.includes(m.tool_call_id as string))
        return invalid(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `${at}.role`,
        );
      open = open.filter((id) => id !== m.tool_call_id);
    }
    if (hasCalls) {
      for (const [j, c] of (m.tool_calls as unknown[]).entries()) {
        const ok =
          isObj(c) &&
          typeof c.id === 'string' &&
          c.type === 'function' &&
          isObj(c.function) &&
          typeof c.function.name === 'string' &&
          typeof c.function.arguments === 'string';
        if (!ok)
          return invalid(
            `Invalid value for '${at}.tool_calls.[${j}]': expected { id, type: "function", function: { name, arguments: string } }.`,
            `${at}.tool_calls.[${j}]`,
          );
      }
      open = (m.tool_calls as { id: string }[]).map((c) => c.id);
    }
  }
  return undefined;
}

function checkResponseFormat(format: unknown): ApiError | undefined {
  if (format === undefined) return undefined;
  if (!isObj(format) || !['text', 'json_object', 'json_schema'].includes(format.type as string))
    return invalid("Invalid value for 'response_format.type'.", 'response_format.type', 'invalid_value');
  if (format.type !== 'json_schema')
    return Object.keys(format).length === 1
      ? undefined
      : invalid(
          `Unrecognized request argument supplied: response_format.${Object.keys(format).find((k) => k !== 'type')}`,
        );
  const js = format.json_schema;
  if (!isObj(js))
    return invalid(
      "Missing required parameter: 'response_format.json_schema'.",
      'response_format.json_schema',
      'missing_required_parameter',
    );
  for (const k of Object.keys(js))
    if (!['name', 'description', 'schema', 'strict'].includes(k))
      return invalid(`Unrecognized request argument supplied: response_format.json_schema.${k}`);
  if (typeof js.name !== 'string' || !NAME.test(js.name))
    return invalid(
      `Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
      'response_format.json_schema.name',
      'invalid_value',
    );
  if (js.strict !== undefined && js.strict !== null && typeof js.strict !== 'boolean')
    return invalid(
      "Invalid type for 'response_format.json_schema.strict': expected a boolean.",
      'response_format.json_schema.strict',
      'invalid_type',
    );
  if (js.strict !== true) return undefined;
  const problem = strictSchemaProblem(js.schema);
  return problem
    ? invalid(`Invalid schema for response_format '${js.name}': ${problem}`, 'response_format', 'invalid_json_schema')
    : undefined;
}

function checkTools(tools: unknown): ApiError | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) return invalid("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  for (const [i, t] of tools.entries()) {
    const at = `tools[${i}]`;
    if (!isObj(t) || t.type !== 'function' || !isObj(t.function))
      return invalid(`Missing required parameter: '${at}.function'.`, `${at}.function`, 'missing_required_parameter');
    for (const k of Object.keys(t))
      if (k !== 'type' && k !== 'function') return invalid(`Unrecognized request argument supplied: ${at}.${k}`);
    const f = t.function;
    for (const k of Object.keys(f))
      if (!['name', 'description', 'parameters', 'strict'].includes(k))
        return invalid(`Unrecognized request argument supplied: ${at}.function.${k}`);
    if (typeof f.name !== 'string' || !NAME.test(f.name))
      return invalid(
        `Invalid '${at}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `${at}.function.name`,
        'invalid_value',
      );
    if (f.parameters === undefined) continue;
    const params = `${at}.function.parameters`;
    const problem = f.strict === true ? strictSchemaProblem(f.parameters) : objectRootProblem(f.parameters);
    if (problem)
      return invalid(`Invalid schema for function '${f.name}': ${problem}`, params, 'invalid_function_parameters');
  }
  return undefined;
}

/** Function parameters, strict or not: an object schema with `properties`. */
function objectRootProblem(schema: unknown): string | undefined {
  if (!isObj(schema) || schema.type !== 'object')
    return `schema must be a JSON Schema of 'type: "object"', got 'type: ${isObj(schema) && schema.type !== undefined ? JSON.stringify(schema.type) : 'null'}'.`;
  if (!isObj(schema.properties)) return 'In context=(), object schema missing properties.';
  return undefined;
}

const SUPPORTED = new Set([
  'type',
  'description',
  'title',
  'default',
  'enum',
  'const',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
]);
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);

/** The first way a schema breaks the strict-mode rules, as the API words it; undefined when it follows them. */
export function strictSchemaProblem(schema: unknown): string | undefined {
  const root = objectRootProblem(schema);
  if (root) return root;
  const counts = { properties: 0, enums: 0 };
  const defs = {
    ...((schema as Json).definitions as Json | undefined),
    ...((schema as Json).$defs as Json | undefined),
  };
  const problem = walk(schema, [], 0, schema as Json, counts);
  if (problem) return problem;
  for (const [name, def] of Object.entries(defs)) {
    const p = walk(def, ['$defs', name], 0, schema as Json, counts);
    if (p) return p;
  }
  if (counts.properties > 5000) return `Too many object properties: ${counts.properties} exceeds the maximum of 5000.`;
  if (counts.enums > 1000) return `Too many enum values: ${counts.enums} exceeds the maximum of 1000.`;
  return undefined;
}

function walk(
  node: unknown,
  context: string[],
  depth: number,
  root: Json,
  counts: { properties: number; enums: number },
): string | undefined {
  const ctx = `In context=(${context.map((c) => `'${c}'`).join(', ')}${context.length === 1 ? ',' : ''})`;
  if (!isObj(node)) return `${ctx}, schema must be a JSON Schema object, got ${JSON.stringify(node)}.`;
  for (const k of Object.keys(node))
    if (!SUPPORTED.has(k) && !(context.length === 0 && (k === '$schema' || k === '$id')))
      return `${ctx}, '${k}' is not permitted.`;
  if (node.$ref !== undefined) {
    const others = Object.keys(node).filter((k) => k !== '$ref');
    if (others.length) return `${ctx}, $ref cannot have keywords {${others.map((k) => `'${k}'`).join(', ')}}.`;
    if (typeof node.$ref !== 'string' || !(node.$ref === '#' || resolves(root, node.$ref)))
      return `${ctx}, reference ${JSON.stringify(node.$ref)} can't be resolved.`;
    return undefined;
  }
  if (node.anyOf !== undefined) {
    if (!Array.isArray(node.anyOf) || node.anyOf.length === 0) return `${ctx}, 'anyOf' must be a non-empty array.`;
    for (const [i, b] of node.anyOf.entries()) {
      const p = walk(b, [...context, 'anyOf', String(i)], depth, root, counts);
      if (p) return p;
    }
    return undefined;
  }
  if (node.enum !== undefined) {
    if (!Array.isArray(node.enum) || node.enum.length === 0) return `${ctx}, 'enum' must be a non-empty array.`;
    counts.enums += node.enum.length;
  }
  if (node.type === undefined)
    return node.enum !== undefined || node.const !== undefined ? undefined : `${ctx}, schema must have a 'type' key.`;
  const types = Array.isArray(node.type) ? node.type : [node.type];
  for (const t of types)
    if (!TYPES.has(t as string)) return `${ctx}, ${JSON.stringify(t)} is not valid under any of the given schemas.`;
  if (types.includes('object')) {
    if (depth + 1 > 10) return `${ctx}, too many levels of nesting: more than 10 levels of objects.`;
    if (!isObj(node.properties)) return `${ctx}, object schema missing properties.`;
    if (node.additionalProperties !== false)
      return `${ctx}, 'additionalProperties' is required to be supplied and to be false.`;
    const keys = Object.keys(node.properties);
    const required = Array.isArray(node.required) ? (node.required as string[]) : undefined;
    const missing = keys.find((k) => !required?.includes(k));
    if (!required || missing !== undefined)
      return `${ctx}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing ?? keys[0]}'.`;
    const extra = required.find((k) => !keys.includes(k));
    if (extra !== undefined) return `${ctx}, Extra required key '${extra}' supplied.`;
    counts.properties += keys.length;
    for (const k of keys) {
      const p = walk(node.properties[k], [...context, 'properties', k], depth + 1, root, counts);
      if (p) return p;
    }
  }
  if (types.includes('array')) {
    if (node.items === undefined) return `${ctx}, array schema missing items.`;
    const p = walk(node.items, [...context, 'items'], depth, root, counts);
    if (p) return p;
  }
  if (node.format !== undefined && !FORMATS.has(node.format as string))
    return `${ctx}, '${String(node.format)}' is not a valid format.`;
  if (typeof node.pattern === 'string' && /\(\?[=!<]/.test(node.pattern))
    return `${ctx}, Invalid pattern ${JSON.stringify(node.pattern)}: look-around is not supported.`;
  return undefined;
}

function resolves(root: Json, ref: string): boolean {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  return Boolean(m && isObj(root[m[1]]) && (root[m[1]] as Json)[m[2]] !== undefined);
}
