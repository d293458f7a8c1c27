import { z } from 'zod';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/toolkit/define-tool.js';

/** GET or POST JSON with a timeout and a response size limit. @public */
export const httpRequest = defineTool({
  name: 'http_request',
  // A GET reads; a POST may change something elsewhere (the input before defaults: no method is GET).
  effects: (input) => ((input?.method ?? 'GET') === 'GET' ? 'none' : 'external'),
  description: 'HTTP GET or POST (JSON body) with a timeout and a size limit; returns status, headers and body.',
  input: z.object({
    url: z.url(),
    method: z.enum(['GET', 'POST']).default('GET'),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    timeout_ms: z.number().int().positive().max(120_000).default(10_000),
    max_bytes: z.number().int().positive().max(10_000_000).default(1_000_000),
  }),
  async run({ url, method, body, headers, timeout_ms, max_bytes }, ctx) {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeout_ms)]);
    const res = await fetch(url, {
      method,
      signal,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max_bytes) {
        await reader.cancel();
        throw new NonRetriableError(`response from ${url} is larger than ${max_bytes} bytes`);
      }
      chunks.push(value);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined; // not JSON: the answer has the text alone
    }
    if (res.status >= 500) throw new Error(`${method} ${url}: HTTP ${res.status}`);
    return { status: res.status, ok: res.ok, headers: Object.fromEntries(res.headers), body: json ?? text };
  },
});
