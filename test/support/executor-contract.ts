/**
 * The contract every attempt executor meets, as a reusable suite: `executorContract('name', () => executor)`.
 * It drives the executor with plain requests and a fake host, as the scheduler does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CancelledError,
  defineTool,
  NonRetriableError,
  type AttemptExecutor,
  type AttemptHost,
  type AttemptRequest,
  type Tool,
  type ToolContext,
} from '../../src/index.js';

/** The tools the contract's requests name (a worker process of a remote executor loads these). */
export const contractTools: Record<string, Tool> = Object.fromEntries(
  [
    defineTool({
      name: 'double',
      input: z.object({ n: z.number() }),
      run: async ({ n }, ctx) => (ctx.emit({ message: 'halfway' }), n * 2),
    }),
    defineTool({
      name: 'boom',
      input: z.object({}),
      run: async () => {
        throw new Error('boom');
      },
    }),
    defineTool({
      name: 'final',
      input: z.object({}),
      run: async () => {
        throw new NonRetriableError('no point');
      },
    }),
    defineTool({ name: 'stuck', input: z.object({}), run: () => new Promise(() => {}) }),
  ].map((t) => [t.name, t]),
);

/** A host as the scheduler gives one, recording what the executor did with it. */
function fakeHost(controller = new AbortController()) {
  const log: string[] = [];
  const host: AttemptHost = {
    tool: (name) => contractTools[name],
    started: () => (log.push('started'), !controller.signal.aborted),
    context: (signal) =>
      ({
        signal,
        runId: 'r1',
        taskId: 't1',
        attempt: 1,
        visit: 1,
        services: {},
        logger: console,
        emit: (p: { message?: string }) => void log.push(`progress ${p.message}`),
      }) as unknown as ToolContext,
    signal: controller.signal,
    // A remote executor brings the tool's ctx reports back through the host.
    forward: (e) => void (e.type === 'progress' && log.push(`progress ${e.message}`)),
  };
  return { host, log, controller };
}

const request = (tool: string, input: unknown, extra: Partial<AttemptRequest> = {}): AttemptRequest => ({
  runId: 'r1',
  taskId: 't1',
  visit: 1,
  attempt: 1,
  tool,
  input,
  ...extra,
});

/** `cleanup` runs after the suite (closing connections a remote executor opened). */
export function executorContract(name: string, make: () => AttemptExecutor, cleanup?: () => Promise<void>): void {
  describe(`attempt executor contract: ${name}`, () => {
    if (cleanup) afterAll(cleanup);
    it('a successful attempt answers its output as data, after calling started() once; ctx events reach the host', async () => {
      const { host, log } = fakeHost();
      const result = await make().execute(request('double', { n: 21 }), host);
      expect(result).toMatchObject({ status: 'succeeded', output: 42, endedAt: expect.stringMatching(/^\d{4}-/) });
      expect(structuredClone(result)).toEqual(result);
      expect(log).toEqual(['started', 'progress halfway']);
    });

    it('a thrown error is a failed result with message, code and retryable', async () => {
      const { host } = fakeHost();
      const result = await make().execute(request('boom', {}), host);
      expect(result).toMatchObject({ status: 'failed', error: { message: 'boom', retryable: true } });
      expect(structuredClone(result)).toEqual(result);
      expect(await make().execute(request('final', {}), fakeHost().host)).toMatchObject({
        status: 'failed',
        error: { code: 'E_TOOL', message: 'no point', retryable: false },
      });
    });

    it('an input that does not match the schema fails E_TOOL_INPUT, not retryable, without calling the tool', async () => {
      const { host, log } = fakeHost();
      const result = await make().execute(request('double', { n: 'x' }), host);
      expect(result).toMatchObject({ status: 'failed', error: { code: 'E_TOOL_INPUT', retryable: false } });
      expect(log).toEqual(['started']);
    });

    it('the deadline fails the attempt E_TIMEOUT even if the tool ignores its signal', async () => {
      const result = await make().execute(request('stuck', {}, { timeoutMs: 20 }), fakeHost().host);
      expect(result).toMatchObject({ status: 'failed', error: { code: 'E_TIMEOUT', retryable: true } });
    });

    it('a run stopped before the attempt starts answers cancelled and never calls the tool', async () => {
      const { host, log, controller } = fakeHost();
      controller.abort(new CancelledError());
      expect(await make().execute(request('double', { n: 1 }), host)).toEqual({ status: 'cancelled' });
      expect(log.filter((l) => l.startsWith('progress'))).toEqual([]);
    });

    it('cancel(runId) fails the running attempts of that run E_CANCELLED, and only those', async () => {
      const { host, controller, log } = fakeHost();
      const executor = make();
      const pending = executor.execute(request('stuck', {}), host);
      const other = executor.execute(request('stuck', {}, { runId: 'r2', timeoutMs: 60 }), fakeHost().host);
      while (!log.includes('started')) await new Promise((r) => setTimeout(r, 5));
      const err = new CancelledError();
      controller.abort(err);
      executor.cancel('r1', err);
      expect(await pending).toMatchObject({ status: 'failed', error: { code: 'E_CANCELLED', retryable: false } });
      // by id: another run's attempt goes on (here until its deadline)
      expect(await other).toMatchObject({ status: 'failed', error: { code: 'E_TIMEOUT' } });
    });
  });
}
