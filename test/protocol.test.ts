/**
 * The published worker protocol (docs/protocol.md, docs/protocol/*.schema.json) is the one braid speaks: a
 * workflow runs through a real BullmqExecutor and BraidWorker on a real redis-server, and every message they leave
 * in Redis (job data, return values, progress reports, the cancel mark and the cancel published on the channel)
 * validates against its schema, and every MAC is recomputed here from the documented algorithm (node:crypto, not
 * braid's `Mac`). A worker written in another language from those documents speaks to braid.
 */
import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator, type Schema } from '@cfworker/json-schema';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool, runWorkflow, type AttemptHost, type Tool, type ToolContext } from '../src/index.js';
import { OfflineProvider } from '../src/llm/offline.js';
import { BullmqExecutor } from '../src/executors/bullmq-executor.js';
import {
  cancelChannel,
  cancelledKey,
  CANCELLED_TTL_S,
  DEFAULT_PREFIX,
  jobIdOf,
  jobLockKey,
  queueOf,
  Seal,
  telemetryOption,
} from '../src/executors/bullmq-wire.js';
import { BraidWorker } from '../src/executors/bullmq-worker.js';
import { ROOT } from './support/cli.js';
import { hasRedis, SKIP_REDIS, startRedis, type TestRedis } from './support/redis.js';

if (!hasRedis) console.log(SKIP_REDIS);

const DIR = join(ROOT, 'docs/protocol');
const DOC = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
const schemas: Record<string, Schema> = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => [f.replace('.schema.json', ''), JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Schema]),
);

/** A validator for one message, with the other schemas loaded for its `$ref`s. */
function validator(name: string): Validator {
  const v = new Validator(schemas[name], '2020-12', false);
  for (const [other, schema] of Object.entries(schemas)) if (other !== name) v.addSchema(schema);
  return v;
}
const validators = Object.fromEntries(Object.keys(schemas).map((name) => [name, validator(name)]));

/** The schema's errors for a value (none when it is valid), short enough to read in a failure. */
const problems = (name: string, value: unknown) =>
  validators[name].validate(value).errors.map((e) => `${e.instanceLocation}: ${e.error}`);

// The MAC as docs/protocol.md describes it ("The envelope and its MAC"), written from the document.
const jobsKey = (secret: string) => Buffer.from(hkdfSync('sha256', secret, 'braid', 'braid:jobs', 32));
function documentedMac(secret: string, ...parts: string[]): string {
  const h = createHmac('sha256', jobsKey(secret));
  for (const p of parts) h.update(`${Buffer.byteLength(p, 'utf8')}:`).update(p, 'utf8');
  return h.digest('hex');
}

const SECRET = 'protocol-test-secret';
const GENERATION = 2;

/** An envelope that validates, whose MAC is the documented one for its kind and binding: its body, parsed. */
function opened(kind: string, binding: string, sealed: unknown, body: string): unknown {
  expect(problems('sealed', sealed), `${kind} ${binding}`).toEqual([]);
  const { body: text, mac } = sealed as { body: string; mac: string };
  expect(mac, `the MAC of the ${kind} ${binding}`).toBe(documentedMac(SECRET, kind, binding, text));
  const value: unknown = JSON.parse(text);
  expect(problems(body, value), `${kind} ${binding}: ${text}`).toEqual([]);
  return value;
}

const talk = defineTool({
  name: 'talk',
  input: z.object({ topic: z.string() }),
  run: async ({ topic }, ctx) => {
    ctx.logger.info('thinking', { topic });
    ctx.emit({ message: 'half way', progress: 0.5, data: { step: 1 } });
    const answer = await ctx.llm!.generate({ messages: [{ role: 'user', content: topic }], purpose: 'protocol' });
    ctx.logger.warn('done');
    return { text: answer.text, list: ['a', 'b'] };
  },
});
const echo = defineTool({ name: 'echo', input: z.object({ value: z.unknown() }), run: async ({ value }) => value });
// Limited: its attempts go to a queue of its own (`tool.boom`), so a job's binding names another queue.
const boom = defineTool({
  name: 'boom',
  input: z.object({}),
  concurrency: 1,
  run: async () => {
    throw new Error('boom');
  },
});
const tools: Tool[] = [talk, echo, boom];

const flow = {
  tasks: [
    { id: 'ask', tool: 'talk', input: { topic: 'wire formats' }, timeout_ms: 60_000 },
    {
      id: 'each',
      tool: 'echo',
      for_each: '{{ tasks.ask.output.list }}',
      input: { value: '{{ item }}' },
      dependencies: ['ask'],
    },
    { id: 'fail', tool: 'boom', dependencies: ['ask'] },
  ],
};

describe.skipIf(!hasRedis)('the worker protocol (docs/protocol.md) against a real coordinator and worker', () => {
  let redis: TestRedis;
  let client: Redis;
  let executor: BullmqExecutor;
  let worker: BraidWorker;
  const prefix = `p${randomUUID().slice(0, 8)}`;
  const closing: (() => Promise<unknown>)[] = [];
  const queues: Record<string, Queue> = {};
  /** What each job's event stream said, in order: its sealed reports, then `completed`. */
  const seen = new Map<string, unknown[]>();
  let runId = '';

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    executor = new BullmqExecutor({ redis: redis.url, prefix, secret: SECRET, generationOf: () => GENERATION });
    worker = new BraidWorker({ redis: redis.url, prefix, secret: SECRET, tools, llm: new OfflineProvider() });
    closing.push(
      () => executor.close(),
      () => worker.close(1000),
    );
    await worker.start();
    for (const name of ['attempts', 'tool.boom']) {
      const connection = { url: redis.url };
      queues[name] = new Queue(name, { connection, prefix });
      // From the stream's start: nothing the run writes is missed.
      const events = new QueueEvents(name, { connection, prefix, lastEventId: '0-0' });
      events.on('progress', ({ jobId, data }) => void seen.set(jobId, [...(seen.get(jobId) ?? []), data]));
      events.on('completed', ({ jobId }) => void seen.set(jobId, [...(seen.get(jobId) ?? []), 'completed']));
      closing.push(
        () => events.close(),
        () => queues[name].close(),
      );
      await events.waitUntilReady();
    }
    const r = await runWorkflow(flow, { tools, executor, store: false });
    expect(r.status).toBe('failed');
    expect(r.tasks.ask.status).toBe('succeeded');
    expect(r.tasks.each.output).toEqual(['a', 'b']);
    expect(r.tasks.fail.status).toBe('failed');
    runId = r.runId;
  }, 60_000);

  afterAll(async () => {
    for (const close of closing.reverse()) await close().catch(() => {});
    client?.disconnect();
    await redis?.stop();
  });

  /** Every job of a queue, with the request its data carries (checked against the schemas on the way). */
  async function jobsOf(queue: string): Promise<{ job: Job; request: Record<string, unknown> }[]> {
    const jobs = await queues[queue].getJobs(['completed', 'failed', 'active', 'waiting']);
    return jobs.map((job) => ({
      job,
      request: opened('job', `${queue}|${job.id}`, job.data, 'attempt-request') as Record<string, unknown>,
    }));
  }

  it('each job’s data is a sealed attempt request, under the documented job id and binding', async () => {
    const all = [...(await jobsOf('attempts')), ...(await jobsOf('tool.boom'))];
    expect(all.map(({ job }) => job.id).sort()).toEqual(
      [`${runId}|ask|1|1`, `${runId}|each|1|1|0`, `${runId}|each|1|1|1`, `${runId}|fail|1|1`].sort(),
    );
    for (const { job, request } of all) {
      const { runId: run, taskId, visit, attempt, item } = request;
      expect(job.id).toBe(`${run}|${taskId}|${visit}|${attempt}${item === undefined ? '' : `|${item}`}`);
      expect(job.name).toBe(request.tool);
      expect(request.generation).toBe(GENERATION);
    }
    const ask = all.find(({ request }) => request.taskId === 'ask')!.request;
    expect(ask).toMatchObject({ tool: 'talk', input: { topic: 'wire formats' }, timeoutMs: 60_000 });
    expect(ask.idempotencyKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('each return value is a sealed result holding an attempt result and the request’s generation', async () => {
    const results: Record<string, { result: Record<string, unknown>; generation: number }> = {};
    for (const queue of ['attempts', 'tool.boom'])
      for (const { job } of await jobsOf(queue)) {
        const value = opened('result', job.id!, job.returnvalue, 'sealed-result') as (typeof results)[string];
        expect(value.generation).toBe(GENERATION);
        results[job.id!.split('|').slice(1).join('|')] = value;
      }
    expect(results['ask|1|1'].result).toMatchObject({ status: 'succeeded', output: { list: ['a', 'b'] } });
    expect(results['each|1|1|1'].result).toMatchObject({ status: 'succeeded', output: 'b' });
    expect(results['fail|1|1'].result).toMatchObject({
      status: 'failed',
      error: { message: 'boom', retryable: true },
    });
    // The model call travels in the result as well as in its report.
    const calls = results['ask|1|1'].result.calls as { purpose: string; provider: string }[];
    expect(calls.map((c) => [c.provider, c.purpose])).toEqual([['offline', 'protocol']]);
    expect(results['fail|1|1'].result.calls).toBeUndefined();
  });

  it('each progress update is a sealed job report: started first, then the tool’s, all before the result', async () => {
    const ids = [`${runId}|ask|1|1`, `${runId}|each|1|1|0`, `${runId}|fail|1|1`];
    await vi.waitFor(() => expect(ids.map((id) => seen.get(id)?.at(-1))).toEqual(ids.map(() => 'completed')), {
      timeout: 10_000,
    });
    const reportsOf = (id: string) =>
      seen
        .get(id)!
        .slice(0, -1)
        .map((data) => opened('report', id, data, 'job-report') as { type: string; [k: string]: unknown });
    for (const id of ids) {
      expect(seen.get(id)!.indexOf('completed'), id).toBe(seen.get(id)!.length - 1);
      const job = await queues[id.includes('|fail|') ? 'tool.boom' : 'attempts'].getJob(id);
      expect(reportsOf(id)[0], id).toEqual({ type: 'started', worker: job!.processedBy });
    }
    const ask = reportsOf(ids[0]);
    expect(ask.map((r) => r.type)).toEqual(['started', 'log', 'progress', 'llm', 'log']);
    expect(ask[1]).toEqual({ type: 'log', level: 'info', message: 'thinking', fields: { topic: 'wire formats' } });
    expect(ask[2]).toEqual({ type: 'progress', message: 'half way', progress: 0.5, data: { step: 1 } });
    const result = opened('result', ids[0], (await queues.attempts.getJob(ids[0]))!.returnvalue, 'sealed-result');
    expect((result as { result: { calls: unknown[] } }).result.calls).toEqual([ask[3].info]);
  });

  it('a cancel sets a sealed cancel mark and publishes a cancel message; a job sent after it answers cancelled', async () => {
    const subscriber = new Redis(redis.url);
    closing.push(async () => subscriber.disconnect());
    const published = new Promise<string>((resolve) => subscriber.on('message', (_channel, m) => resolve(m)));
    await subscriber.subscribe(`${prefix}:cancel`);
    executor.cancel(runId, new Error('stop it'));

    const message: unknown = JSON.parse(await published);
    expect(problems('cancel-message', message)).toEqual([]);
    const { runId: cancelled, ...sealed } = message as { runId: string; body: string; mac: string };
    expect(cancelled).toBe(runId);
    expect(opened('cancel', runId, sealed, 'cancel-mark')).toEqual({ message: 'stop it', generation: GENERATION });

    const key = `${prefix}:cancelled:${runId}`;
    const mark: unknown = JSON.parse((await client.get(key))!);
    expect(opened('cancel', runId, mark, 'cancel-mark')).toEqual({ message: 'stop it', generation: GENERATION });
    expect(mark).toEqual(sealed);
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);

    // An attempt of the cancelled run sent now (the next try of `ask`): the worker finds the mark and does not start.
    const host: AttemptHost = {
      tool: (name) => tools.find((t) => t.name === name)!,
      started: () => true,
      context: () => ({}) as ToolContext,
      signal: new AbortController().signal,
      forward: () => {},
    };
    const request = { runId, taskId: 'ask', visit: 1, attempt: 2, tool: 'talk', input: { topic: 'again' } };
    expect(await executor.execute(request, host)).toEqual({ status: 'cancelled' });
    const id = `${runId}|ask|1|2`;
    const job = (await queues.attempts.getJob(id))!;
    expect(opened('result', id, job.returnvalue, 'sealed-result')).toEqual({
      result: { status: 'cancelled' },
      generation: GENERATION,
    });
  });
});

describe('the protocol documents', () => {
  it('the worked example of docs/protocol.md is what braid seals, and what the documented algorithm gives', () => {
    const hex = (label: string) => new RegExp(`${label}\\s+\`([0-9a-f]{64})\``).exec(DOC)?.[1];
    const [key, mac] = [hex('the key is'), hex('and the MAC')];
    const body = /the body\n`(\{.*\})`/.exec(DOC)?.[1];
    expect([key, mac, body]).not.toContain(undefined);
    const secret = 'correct horse battery staple';
    expect(jobsKey(secret).toString('hex')).toBe(key);
    expect(documentedMac(secret, 'job', 'attempts|run-1|fetch|1|1', body!)).toBe(mac);
    const sealed = new Seal(secret).seal('job', 'attempts|run-1|fetch|1|1', JSON.parse(body!));
    expect(sealed).toEqual({ body, mac });
    expect(problems('sealed', sealed)).toEqual([]);
    expect(problems('attempt-request', JSON.parse(body!))).toEqual([]);
  });

  it('the schemas reject what braid never sends', () => {
    const request = { runId: 'r', taskId: 't', visit: 1, attempt: 1, tool: 'x', input: {} };
    expect(problems('attempt-request', request)).toEqual([]);
    const noTask = Object.fromEntries(Object.entries(request).filter(([k]) => k !== 'taskId'));
    expect(problems('attempt-request', noTask)).not.toEqual([]);
    expect(problems('attempt-request', { ...request, attempt: 0 })).not.toEqual([]);
    expect(problems('attempt-request', { ...request, extra: 1 })).not.toEqual([]);
    expect(problems('sealed', { body: '{}', mac: 'A'.repeat(64) })).not.toEqual([]);
    expect(problems('attempt-result', { status: 'succeeded', output: 1, durationMs: 1 })).not.toEqual([]);
    expect(
      problems('attempt-result', { status: 'failed', error: { message: 'x' }, durationMs: 1, endedAt: '' }),
    ).not.toEqual([]);
    expect(problems('job-report', { type: 'started' })).not.toEqual([]);
    expect(problems('job-report', { type: 'gossip', message: 'x' })).not.toEqual([]);
    expect(problems('cancel-mark', { message: 'x' })).not.toEqual([]);
    expect(problems('sealed-result', { result: { status: 'cancelled' } })).not.toEqual([]);
  });

  it('every schema is draft 2020-12, describes each property, and is listed in docs/protocol.md', () => {
    const undescribed: string[] = [];
    let root: Schema = {};
    // A property that is a `$ref` is described by what it refers to (a `$defs` entry, or another schema file).
    const described = (schema: Schema, ref?: string): boolean => {
      if (!ref) return false;
      const [file, pointer = ''] = ref.split('#');
      let target: unknown = file ? schemas[file.replace('.schema.json', '')] : schema;
      for (const key of pointer.split('/').filter(Boolean)) target = (target as Record<string, unknown>)?.[key];
      return typeof (target as Schema | undefined)?.description === 'string';
    };
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const { properties } = node as { properties?: Record<string, { description?: string; $ref?: string }> };
      for (const [name, p] of Object.entries(properties ?? {}))
        if (!p.description && !described(root, p.$ref)) undescribed.push(`${path}/properties/${name}`);
      for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
    };
    for (const [name, schema] of Object.entries(schemas)) {
      expect(schema.$schema, name).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.$id, name).toBe(`${name}.schema.json`);
      expect(schema.description, name).toMatch(/docs\/protocol\.md/);
      expect(DOC, name).toContain(`(protocol/${name}.schema.json)`);
      root = schema;
      walk(schema, name);
    }
    expect(undescribed).toEqual([]);
    expect(Object.keys(schemas).sort()).toEqual(
      [
        'attempt-request',
        'attempt-result',
        'cancel-mark',
        'cancel-message',
        'job-report',
        'llm-call',
        'sealed',
        'sealed-result',
      ].sort(),
    );
  });
});

describe('the names docs/protocol.md gives', () => {
  it('prefix, queues, job ids, the cancel keys and the job lock', () => {
    expect(DEFAULT_PREFIX).toBe('braid:q');
    expect(DOC).toContain('`braid:q` by default');
    expect(queueOf({ name: 'plain' })).toBe('attempts');
    expect(queueOf({ name: 'few', concurrency: 2 })).toBe('tool.few');
    expect(queueOf({ name: 'slow', rateLimit: { intervalCap: 1, interval: 1000 } })).toBe('tool.slow');
    const request = { runId: 'r', taskId: 't', visit: 1, attempt: 2, tool: 'x', input: {} } as never;
    expect(jobIdOf(request)).toBe('r|t|1|2');
    expect(jobIdOf({ ...(request as object), item: 3 } as never)).toBe('r|t|1|2|3');
    expect(cancelChannel('p')).toBe('p:cancel');
    expect(cancelledKey('p', 'r')).toBe('p:cancelled:r');
    expect(CANCELLED_TTL_S).toBe(86_400);
    expect(jobLockKey('p', 'attempts', 'r|t|1|2')).toBe('p:attempts:r|t|1|2:lock');
    for (const documented of ['`<prefix>:<queue>:<jobId>:lock`', '<prefix>:cancelled:<runId> <sealed> EX 86400'])
      expect(DOC).toContain(documented);
  });

  it('a message that fails its MAC check is E_UNTRUSTED, naming its kind and (the first 200 characters of) where', () => {
    const binding = `run|${'t'.repeat(300)}`;
    const err = (() => {
      try {
        return new Seal('one secret').open('job', binding, new Seal('another').seal('job', binding, {}));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toMatchObject({ code: 'E_UNTRUSTED' });
    expect((err as Error).message).toContain(`a job in Redis failed its MAC check (${binding.slice(0, 200)}): `);
    expect((err as Error).message).not.toContain(binding.slice(0, 201));
  });

  it('tracing adds BullMQ telemetry only when it is on', async () => {
    expect(await telemetryOption(undefined)).toEqual({});
    expect(await telemetryOption(false)).toEqual({});
    expect((await telemetryOption(true)).telemetry).toBeDefined();
  });
});
