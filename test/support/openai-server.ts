/**
 * A loopback OpenAI-compatible server for tests: `/v1/chat/completions` (text, tool calls, json_schema) and
 * `/v1/models`, on 127.0.0.1 with a random port. It refuses what the real API refuses (`openai-rules.ts`: unknown
 * parameters, message order, strict schemas that break Structured Outputs' rules) with the API's 400 error body,
 * and records every refusal in `rejected`, so a test can assert that braid sent nothing the API would refuse.
 * Faults are scripted per request: rate limits, server errors, slow, hanging and dripping responses, HTML and
 * other bodies that are not a chat completion, malformed JSON, labels outside the enum.
 * Usage is counted as 4 characters a token (prompt: the messages' contents); an answer longer than the request's
 * `max_completion_tokens` (or `max_tokens`) is cut there with `finish_reason: "length"`, as the API does, and
 * `completionTokens` makes every answer bill exactly that many (or exactly the request's maximum).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkRequest, type ApiError } from './openai-rules.js';

export type Fault =
  | { kind: '429'; retryAfterSeconds: number; header?: 'retry-after' | 'retry-after-ms' }
  | { kind: '500' }
  | { kind: 'slow'; ms: number }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** Sends the headers, then the body one byte every `everyMs`, never finishing. */
  | { kind: 'drip'; everyMs: number }
  /** A 200 whose body is an HTML page (a proxy's login or error page). */
  | { kind: 'html' }
  /** A 200 JSON body that is not a chat completion. */
  | { kind: 'not-completion' }
  | { kind: 'malformed' }
  | { kind: 'label'; label: string };

export interface RecordedRequest {
  readonly body: {
    model: string;
    messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
    tools?: {
      type: string;
      function: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean };
    }[];
    response_format?: {
      type: string;
      json_schema?: { name: string; schema: Record<string, unknown>; strict?: boolean };
    };
    temperature?: number;
    max_completion_tokens?: number;
    max_tokens?: number;
  };
  readonly authorization?: string;
  readonly at: number;
}

export interface Reply {
  content?: string;
  toolCalls?: { name: string; arguments: unknown }[];
}

export interface LoopbackServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests refused with a 400, as the real API would: a test fails when this is not empty. */
  readonly rejected: { request: unknown; error: ApiError }[];
  /** Faults consumed one per request, in order, before normal answers. */
  readonly faults: Fault[];
  /** Scripted answers; when empty, answers are derived from the request (see `objectFor`). */
  readonly replies: Reply[];
  /** Chooses an answer per request (after faults and scripted replies); undefined falls back to `objectFor`. */
  answer?: (body: RecordedRequest['body']) => Reply | undefined;
  /** Delay before every normal answer, ms (to see how many requests are in flight). */
  latencyMs: number;
  /**
   * Bill every normal answer exactly this many completion tokens, or `'max'`: exactly the request's
   * `max_completion_tokens` (the worst case a budget reserves). Undefined: 4 characters of the answer a token.
   */
  completionTokens?: number | 'max';
  /**
   * Hold normal answers until this many requests are in flight at once (or `ms` passed), then stop holding: shows
   * whether a client gets that many requests out together without depending on how fast its sockets connect.
   */
  gather?: { count: number; ms: number };
  /** Requests being answered now, and the most at once since the last reset. */
  readonly stats: { inFlight: number; maxInFlight: number };
  /** Forget requests, refusals, faults, replies and stats. */
  reset(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

type Schema = Record<string, unknown>;

/** A schema-valid answer to a json_schema request: first enum value, first union branch, "loopback answer", 0.5, []. */
export function objectFor(schema: Schema, root: Schema = schema, depth = 0): unknown {
  if (typeof schema.$ref === 'string') {
    const target =
      schema.$ref === '#'
        ? root
        : ((root.$defs ?? root.definitions) as Record<string, Schema>)[schema.$ref.split('/').pop()!];
    return depth > 4 ? null : objectFor(target, root, depth + 1);
  }
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.anyOf)) return objectFor((schema.anyOf as Schema[])[0], root, depth);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'object') {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, objectFor(s, root, depth + 1)]));
  }
  if (type === 'number' || type === 'integer')
    return typeof schema.minimum === 'number' && schema.minimum > 0.5 ? schema.minimum : 0.5;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  if (type === 'null') return null;
  return 'loopback answer';
}

export async function startLoopbackServer(): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const rejected: LoopbackServer['rejected'] = [];
  const faults: Fault[] = [];
  const replies: Reply[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  let latencyMs = 0;
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/v1/models')
      return send(200, { object: 'list', data: [{ id: 'loopback-model', object: 'model', owned_by: 'braid-tests' }] });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions')
      return send(404, {
        error: { message: 'not found', type: 'invalid_request_error', param: null, code: 'unknown_url' },
      });
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBody(req));
    } catch {
      return send(400, {
        error: {
          message: 'We could not parse the JSON body of your request.',
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      });
    }
    const body = parsed as RecordedRequest['body'];
    requests.push({ body, authorization: req.headers.authorization, at: Date.now() });
    const refusal = checkRequest(parsed);
    if (refusal) {
      rejected.push({ request: parsed, error: refusal });
      return send(400, refusal);
    }
    const fault = faults.shift();
    if (fault?.kind === '429') {
      const header: Record<string, string> =
        fault.header === 'retry-after-ms'
          ? { 'retry-after-ms': String(fault.retryAfterSeconds * 1000) }
          : { 'retry-after': String(fault.retryAfterSeconds) };
      return send(
        429,
        {
          error: {
            message: 'Rate limit reached for requests',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
        header,
      );
    }
    if (fault?.kind === '500')
      return send(500, {
        error: {
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          param: null,
          code: null,
        },
      });
    if (fault?.kind === 'hang') return; // the socket stays open until the client or close() ends it
    if (fault?.kind === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(
        '<!doctype html><html><head><title>Sign in</title></head><body>Please sign in to continue.</body></html>',
      );
    }
    if (fault?.kind === 'not-completion') return send(200, { object: 'list', data: [] });
    if (fault?.kind === 'drip') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = JSON.stringify({ id: 'chatcmpl-drip', object: 'chat.completion', choices: [] }).padEnd(100_000, ' ');
      for (let i = 0; i < text.length && !res.destroyed; i++) {
        res.write(text[i]);
        await wait(fault.everyMs);
      }
      return;
    }
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      if (fault?.kind === 'slow') await wait(fault.ms);
      if (latencyMs) await wait(latencyMs);
      const gather = handle.gather;
      if (gather) {
        const until = Date.now() + gather.ms;
        while (handle.gather === gather && stats.inFlight < gather.count && Date.now() < until) await wait(1);
        if (handle.gather === gather) handle.gather = undefined;
      }
    } finally {
      stats.inFlight--;
    }
    if (res.destroyed) return;
    const scripted = replies.shift() ?? handle.answer?.(body);
    let content: string | null = scripted?.content ?? null;
    const toolCalls = scripted?.toolCalls;
    const schema = body.response_format?.json_schema?.schema;
    if (fault?.kind === 'malformed') content = '{"label": "good", "reason": ';
    else if (fault?.kind === 'label')
      content = JSON.stringify({ label: fault.label, reason: 'out of set', confidence: null });
    else if (content === null && !toolCalls && schema) content = JSON.stringify(objectFor(schema));
    else if (content === null && !toolCalls)
      content = `loopback reply to: ${body.messages.at(-1)?.content ?? ''}`.slice(0, 200);
    const prompt = body.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
    const limit = body.max_completion_tokens ?? body.max_tokens;
    let cut = false;
    if (limit !== undefined && content !== null && Math.ceil(content.length / 4) > limit) {
      content = content.slice(0, limit * 4);
      cut = true;
    }
    const counted = Math.ceil(((content?.length ?? 0) + JSON.stringify(toolCalls ?? []).length) / 4);
    const billed = handle.completionTokens === 'max' ? limit : handle.completionTokens;
    const completion = billed ?? (limit === undefined ? counted : Math.min(counted, limit));
    send(200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          finish_reason: cut ? 'length' : toolCalls ? 'tool_calls' : 'stop',
          message: {
            role: 'assistant',
            content: toolCalls ? null : content,
            refusal: null,
            ...(toolCalls
              ? {
                  tool_calls: toolCalls.map((c, i) => ({
                    id: `call_${requests.length}_${i}`,
                    type: 'function',
                    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
                  })),
                }
              : {}),
          },
        },
      ],
      usage: {
        prompt_tokens: Math.ceil(prompt / 4),
        completion_tokens: completion,
        total_tokens: Math.ceil(prompt / 4) + completion,
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle: LoopbackServer = {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    rejected,
    faults,
    replies,
    stats,
    get latencyMs() {
      return latencyMs;
    },
    set latencyMs(ms: number) {
      latencyMs = ms;
    },
    reset() {
      requests.length = rejected.length = faults.length = replies.length = 0;
      stats.maxInFlight = stats.inFlight;
      latencyMs = 0;
      handle.answer = undefined;
      handle.completionTokens = undefined;
      handle.gather = undefined;
    },
    close: () =>
      new Promise((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return handle;
}
