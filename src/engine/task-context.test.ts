/** What a tool gets as `ctx`: a logger and progress that become events, the tracked model, child runs on demand. */
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../core/events.js';
import { EventBus } from '../events/bus.js';
import type { LlmCallInfo } from '../llm/types.js';
import { ScriptedModel } from '../testing/index.js';
import type { ChildRuns } from '../toolkit/types.js';
import { admission } from './call-admission.js';
import { createTaskLogger, TaskContext } from './task-context.js';

function setup(model?: ScriptedModel) {
  const events: RunEvent[] = [];
  const bus = new EventBus('r1', [(e) => void events.push(e)]);
  const reported: LlmCallInfo[] = [];
  let reporters = 0;
  let childMakers = 0;
  const children = { tools: [], run: async () => ({}) } as unknown as ChildRuns;
  const signal = new AbortController().signal;
  const ctx = new TaskContext(
    signal,
    'r1',
    't1',
    2,
    3,
    () => 'key-1',
    { db: 'x' },
    bus,
    model,
    () => (reporters++, (info) => void reported.push(info)),
    () => admission(7, undefined),
    () => (childMakers++, children),
  );
  const bodies = () => events.map(({ seq: _s, ts: _t, runId: _r, ...rest }) => rest);
  return { ctx, signal, bodies, reported, children, counts: () => ({ reporters, childMakers }) };
}

describe('TaskContext', () => {
  it('carries the ids, the attempt, the visit, the signal and the services', () => {
    const { ctx, signal } = setup();
    expect([ctx.runId, ctx.taskId, ctx.attempt, ctx.visit, ctx.signal, ctx.services]).toEqual([
      'r1',
      't1',
      2,
      3,
      signal,
      { db: 'x' },
    ]);
  });

  it('logger lines become task.log events with level, task and fields; emit (even detached) becomes task.progress', () => {
    const { ctx, bodies } = setup();
    ctx.logger.debug('d');
    ctx.logger.info('i', { n: 1 });
    ctx.logger.warn('w');
    ctx.logger.error('e');
    const { emit } = ctx;
    emit({ progress: 0.5, message: 'half' });
    expect(bodies()).toEqual([
      { type: 'task.log', level: 'debug', message: 'd', taskId: 't1' },
      { type: 'task.log', level: 'info', message: 'i', taskId: 't1', fields: { n: 1 } },
      { type: 'task.log', level: 'warn', message: 'w', taskId: 't1' },
      { type: 'task.log', level: 'error', message: 'e', taskId: 't1' },
      { type: 'task.progress', taskId: 't1', progress: 0.5, message: 'half' },
    ]);
  });

  it('a logger without a task id writes no taskId', () => {
    const events: RunEvent[] = [];
    createTaskLogger(new EventBus('r', [(e) => void events.push(e)])).info('run-level');
    expect(events.map((e) => 'taskId' in e)).toEqual([false]);
  });

  it('llm is undefined without a model; with one, calls go to the model (with the task maxTokens) and are reported; the reporter is made on use', async () => {
    expect(setup().ctx.llm).toBeUndefined();
    const model = new ScriptedModel({ draft: ['hello'] });
    const { ctx, reported, counts } = setup(model);
    expect(counts().reporters).toBe(0);
    const llm = ctx.llm!;
    const answer = await llm.generate({ messages: [{ role: 'user', content: 'hi' }], purpose: 'draft' });
    expect(answer.text).toBe('hello');
    expect(counts().reporters).toBe(1);
    expect(reported.map((r) => [r.purpose, r.model, r.usage.totalTokens, r.maxTokens])).toEqual([
      ['draft', 'scripted', 3, 7],
    ]);
    expect(model.calls[0].maxTokens).toBe(7);
  });

  it('children are made once per attempt, on first use', () => {
    const { ctx, children, counts } = setup();
    expect(counts().childMakers).toBe(0);
    expect(ctx.children).toBe(children);
    expect(ctx.children).toBe(children);
    expect(counts().childMakers).toBe(1);
  });
});
