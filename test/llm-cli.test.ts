/**
 * `braid run` against a model endpoint that misbehaves (the loopback server): a hanging, dripping, 429-for-an-hour
 * or HTML-answering endpoint ends the task with a clear error within its deadline and the process exits; the first
 * Ctrl-C is honoured during a model wait; `--llm-concurrency` sets how many requests are in flight.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { braid } from './support/cli.js';
import { startLoopbackServer, type Fault, type LoopbackServer } from './support/openai-server.js';

let server: LoopbackServer;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'braid-llm-cli-'));
const flow = (name: string, tasks: object[]) => {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, tasks }));
  return file;
};
const oneIdea = flow('one-idea', [{ id: 'idea', tool: 'llm_generate_idea', input: { topic: 'kites' } }]);

beforeAll(async () => {
  server = await startLoopbackServer();
  env = { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: server.url, BRAID_PROVIDER: '', BRAID_MODEL: 'loopback-model' };
});
afterAll(() => server.close());
beforeEach(() => server.reset());

async function run(args: string[], extra: Record<string, string> = {}, opts: Parameters<typeof braid>[1] = {}) {
  const t0 = Date.now();
  const r = await braid(['run', ...args, '--json', '--quiet', '--no-store'], { ...opts, env: { ...env, ...extra } });
  return { ...r, ms: Date.now() - t0, result: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe('braid run against a misbehaving model endpoint', () => {
  it.each<[string, Fault, Record<string, string>, RegExp, string]>([
    [
      'hangs',
      { kind: 'hang' },
      { BRAID_LLM_TIMEOUT_MS: '400', BRAID_LLM_RETRIES: '0' },
      /no complete answer within 400 ms .*timed out/,
      'E_LLM',
    ],
    [
      'drips its body',
      { kind: 'drip', everyMs: 20 },
      { BRAID_LLM_TIMEOUT_MS: '400', BRAID_LLM_RETRIES: '0' },
      /no complete answer within 400 ms/,
      'E_LLM',
    ],
    [
      'asks to wait an hour (429)',
      { kind: '429', retryAfterSeconds: 3600 },
      {},
      /asked to wait 3600 s before retrying/,
      'E_RATE_LIMIT',
    ],
    [
      'answers with an HTML page',
      { kind: 'html' },
      {},
      /is not a chat completion \(HTTP 200, text\/html/,
      'E_LLM_RESPONSE',
    ],
  ])(
    'an endpoint that %s: the task fails with a clear error and the process exits at once',
    async (_, fault, extra, message, code) => {
      server.faults.push(fault);
      const r = await run([oneIdea], extra);
      expect(r.code).toBe(1);
      expect(r.result.tasks.idea).toMatchObject({
        status: 'failed',
        error: { code, message: expect.stringMatching(message) },
      });
      expect(r.ms).toBeLessThan(6000); // start-up included; the default deadline alone is 60 s
    },
  );

  it('a task timeout_ms ends the model call; no socket or timer keeps the process alive', async () => {
    server.faults.push({ kind: 'hang' });
    const r = await run([
      flow('timeout', [{ id: 'idea', tool: 'llm_generate_idea', input: { topic: 'kites' }, timeout_ms: 500 }]),
    ]);
    expect(r.code).toBe(1);
    expect(r.result.tasks.idea.error).toMatchObject({ code: 'E_TIMEOUT' });
    expect(r.ms).toBeLessThan(6000);
  });

  it.each<[string, Fault]>([
    ['a stalled response', { kind: 'hang' }],
    ['a retry-after wait', { kind: '429', retryAfterSeconds: 30 }],
  ])('the first Ctrl-C is honoured during %s', async (_, fault) => {
    server.faults.push(fault);
    let sentAt = 0;
    const done = await braid(['run', oneIdea, '--json', '--quiet', '--no-store'], {
      env,
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (server.requests.length === 0) return;
          clearInterval(poll);
          setTimeout(() => {
            sentAt = Date.now();
            child.kill('SIGINT');
          }, 150);
        }, 20);
      },
    });
    expect(done.code).toBe(1);
    expect(JSON.parse(done.stdout)).toMatchObject({
      status: 'cancelled',
      tasks: { idea: { status: 'skipped', reason: 'cancelled', error: { code: 'E_CANCELLED' } } },
    });
    expect(sentAt).toBeGreaterThan(0);
    expect(Date.now() - sentAt).toBeLessThan(3000);
  });
});

describe('--llm-concurrency', () => {
  const ten = flow(
    'ten-ideas',
    Array.from({ length: 10 }, (_, i) => ({
      id: `idea${i}`,
      tool: 'llm_generate_idea',
      input: { topic: `topic ${i}` },
    })),
  );

  it('sets the model requests in flight (default 8, so --concurrency 10 alone stops at 8)', async () => {
    server.latencyMs = 400;
    const capped = await run([ten, '--concurrency', '10']);
    expect(capped.code).toBe(0);
    expect(server.stats.maxInFlight).toBe(8);
    server.reset();
    server.latencyMs = 400;
    const raised = await run([ten, '--concurrency', '10', '--llm-concurrency', '10']);
    expect(raised.code).toBe(0);
    expect(server.stats.maxInFlight).toBe(10);
    expect(server.rejected).toEqual([]);
  });
});
