/**
 * A loopback OpenAI-compatible server for tests: `/v1/chat/completions` (text, tool calls, json_schema)
 * and `/v1/models`, on 127.0.0.1 with a random port. Faults are scripted per request.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: '429'; retryAfterSeconds: number }
  | { kind: '500' }
  | { kind: 'slow'; ms: number }
  | { kind: 'malformed' }
  | { kind: 'label'; label: string };

export interface RecordedRequest {
  readonly body: {
    model: string;
    messages: { role: string; content: string | null }[];
    tools?: { function: { name: string; parameters: unknown } }[];
    response_format?: { type: string; json_schema?: { name: string; schema: Record<string, unknown>; strict?: boolean } };
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
  /** Faults consumed one per request, in order, before normal answers. */
  readonly faults: Fault[];
  /** Scripted answers; when empty, answers are derived from the request (see `defaultReply`). */
  readonly replies: Reply[];
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

/** Answer a json_schema request with a schema-valid object: first enum value, "text", 0.5, []... */
function objectFor(schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (Array.isArray(schema.anyOf)) return objectFor((schema.anyOf as Record<string, unknown>[])[0]);
  if (type === 'object') {
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, objectFor(s)]));
  }
  if (type === 'number' || type === 'integer') return 0.5;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  return 'loopback answer';
}

export async function startLoopbackServer(): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const replies: Reply[] = [];
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/v1/models') return send(200, { object: 'list', data: [{ id: 'loopback-model', object: 'model', owned_by: 'braid-tests' }] });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(404, { error: { message: 'not found' } });
    const body = JSON.parse(await readBody(req)) as RecordedRequest['body'];
    requests.push({ body, authorization: req.headers.authorization, at: Date.now() });
    const fault = faults.shift();
    if (fault?.kind === '429') return send(429, { error: { message: 'rate limited', type: 'rate_limit' } }, { 'retry-after': String(fault.retryAfterSeconds) });
    if (fault?.kind === '500') return send(500, { error: { message: 'boom' } });
    if (fault?.kind === 'slow') {
      await new Promise((r) => setTimeout(r, fault.ms));
      if (res.destroyed || req.destroyed) return;
    }
    const scripted = replies.shift();
    let content: string | null = scripted?.content ?? null;
    let toolCalls = scripted?.toolCalls;
    const schema = body.response_format?.json_schema?.schema;
    if (fault?.kind === 'malformed') content = '{"label": "good", "reason": ';
    else if (fault?.kind === 'label') content = JSON.stringify({ label: fault.label, reason: 'out of set', confidence: null });
    else if (content === null && !toolCalls && schema) content = JSON.stringify(objectFor(schema));
    else if (content === null && !toolCalls) content = `loopback reply to: ${body.messages.at(-1)?.content ?? ''}`.slice(0, 200);
    const prompt = body.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
    const completion = (content?.length ?? 0) + JSON.stringify(toolCalls ?? []).length;
    send(200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          finish_reason: toolCalls ? 'tool_calls' : 'stop',
          message: {
            role: 'assistant',
            content: toolCalls ? null : content,
            ...(toolCalls ? { tool_calls: toolCalls.map((c, i) => ({ id: `call_${requests.length}_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) } : {}),
          },
        },
      ],
      usage: { prompt_tokens: Math.ceil(prompt / 4), completion_tokens: Math.ceil(completion / 4), total_tokens: Math.ceil(prompt / 4) + Math.ceil(completion / 4) },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    faults,
    replies,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
