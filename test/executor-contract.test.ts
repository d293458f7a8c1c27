/** Every attempt executor meets the same contract; the engine runs a workflow through any of them alike. */
import { describe, expect, it } from 'vitest';
import { LocalExecutor, runWorkflow } from '../src/index.js';
import { executorContract } from './support/executor-contract.js';
import { JsonExecutor } from './support/json-executor.js';
import { recorder } from './support/tools.js';

executorContract('LocalExecutor', () => new LocalExecutor());
executorContract(
  'LocalExecutor with limits',
  () => new LocalExecutor({ concurrency: 1, toolLimits: { double: { concurrency: 1 } } }),
);
executorContract('JsonExecutor (requests and results cross JSON)', () => new JsonExecutor());

describe('the engine through an executor', () => {
  const flow = {
    tasks: [
      { id: 'a', tool: 'work', input: { ms: 1 } },
      { id: 'b', tool: 'work', input: { ms: 1, fail: true }, dependencies: ['a'], retries: 1 },
      { id: 'c', tool: 'work', input: { ms: 1 }, dependencies: ['b'], trigger_rule: 'all_done' },
    ],
  };

  it('gives the same results and events with the JSON executor as with the local one; requests are plain data', async () => {
    const types = async (executor?: JsonExecutor) => {
      const events: string[] = [];
      const result = await runWorkflow(flow, {
        tools: recorder().tools,
        executor,
        retry: { baseDelayMs: 1 },
        onEvent: (e) => events.push(`${e.type} ${'taskId' in e ? e.taskId : ''}`),
      });
      return {
        statuses: Object.fromEntries(Object.entries(result.tasks).map(([id, t]) => [id, [t.status, t.attempts]])),
        events,
      };
    };
    const json = new JsonExecutor();
    const [local, remote] = [await types(), await types(json)];
    expect(remote).toEqual(local);
    expect(local.statuses).toEqual({ a: ['succeeded', 1], b: ['failed', 2], c: ['succeeded', 1] });
    expect(json.sent.map((r) => `${r.taskId}.${r.visit}.${r.attempt}`)).toEqual(['a.1.1', 'b.1.1', 'b.1.2', 'c.1.1']);
    expect(json.sent[0]).toEqual({
      runId: expect.any(String),
      taskId: 'a',
      visit: 1,
      attempt: 1,
      tool: 'work',
      input: { ms: 1 },
      idempotencyKey: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // The same for each attempt of one visit with one input (a retry), different for another task.
    const key = (i: number) => json.sent[i].idempotencyKey;
    expect(key(1)).toBe(key(2));
    expect(key(0)).not.toBe(key(1));
  });
});
