/**
 * run.ts's own rules (issue 21: its first mutation pass left them to the CLI suites, which a mutant of src/
 * never reaches): run ids, input limits and input checks, built-ins, the record's header, approvals,
 * cancelling a recorded run, resuming a finished one.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BraidError, InputValidationError, WorkflowValidationError } from '../errors.js';
import { MemoryRunStore } from '../store/memory-store.js';
import { defineTool } from '../tools/define-tool.js';
import { defaultTools, registerDefaultTools } from '../tools/defaults.js';
import {
  INPUT_LIMITS,
  approveTask,
  cancelRecordedRun,
  checkInputLimits,
  newRunId,
  prepareResume,
  resolveInput,
  runWorkflow,
} from './run.js';

const echo = defineTool({ name: 'echo', input: z.object({ value: z.unknown() }), run: ({ value }) => value });
const need = defineTool({ name: 'need', input: z.object({ topic: z.string() }), run: ({ topic }) => topic });
const quiet = { builtins: false, classifier: null } as const;

/** The issue `checkInputLimits` throws for `input`, or undefined. */
function limitIssue(input: unknown) {
  try {
    checkInputLimits(input);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InputValidationError);
    return (err as InputValidationError).issues[0];
  }
}

/** `levels` objects (or lists) each inside the one before. */
const nested = (levels: number, inArray = false): unknown => {
  let v: unknown = inArray ? [] : {};
  for (let i = 1; i < levels; i++) v = inArray ? [v] : { v };
  return v;
};

describe('newRunId', () => {
  it('is the second, its milliseconds and 24 random bits, and differs from run to run', () => {
    const ids = Array.from({ length: 40 }, newRunId);
    for (const id of ids) expect(id).toMatch(/^\d{8}T\d{6}-\d{3}-[0-9a-f]{6}$/);
    expect(new Set(ids.map((id) => id.slice(-6))).size).toBeGreaterThan(30);
    const now = new Date().toISOString().replace(/[-:]/g, '');
    expect(ids[0].slice(0, 8)).toBe(now.slice(0, 8));
  });
});

describe('checkInputLimits', () => {
  it(`allows ${INPUT_LIMITS.maxDepth} levels of objects or lists and refuses one more, naming the limit`, () => {
    expect(limitIssue(nested(INPUT_LIMITS.maxDepth))).toBeUndefined();
    expect(limitIssue(nested(INPUT_LIMITS.maxDepth, true))).toBeUndefined();
    for (const inArray of [false, true])
      expect(limitIssue(nested(INPUT_LIMITS.maxDepth + 1, inArray))).toEqual({
        code: 'invalid_value',
        path: 'input',
        message: 'nested deeper than 64 levels',
        hint: 'run input is limited to 64 levels and 1048576 bytes of JSON',
      });
    // what is deep is found under any key, after shallow ones and nulls
    expect(limitIssue({ a: null, b: [1, 'x', null], c: { d: nested(INPUT_LIMITS.maxDepth) } })?.message).toBe(
      'nested deeper than 64 levels',
    );
    expect(limitIssue({ a: null, b: 'x', c: [null, { d: 1 }] })).toBeUndefined();
  });

  it('a cycle is infinitely deep: refused, without overflowing the stack', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(limitIssue(a)?.message).toBe('nested deeper than 64 levels');
  });

  it(`allows ${INPUT_LIMITS.maxBytes} bytes of JSON and refuses one more; bytes of UTF-8, not characters`, () => {
    const exactly = 'x'.repeat(INPUT_LIMITS.maxBytes - 2); // with its two quotes
    expect(limitIssue(exactly)).toBeUndefined();
    expect(limitIssue(`${exactly}x`)?.message).toBe('1048577 bytes of JSON, more than 1048576');
    // 400 000 characters, 1 200 002 bytes
    expect(limitIssue('€'.repeat(400_000))?.message).toBe('1200002 bytes of JSON, more than 1048576');
  });

  it('input that is not JSON is refused with the reason', () => {
    expect(limitIssue({ n: 10n })?.message).toMatch(/^not serializable as JSON \(.*BigInt/);
    expect(limitIssue(undefined)).toBeUndefined();
  });
});

describe('resolveInput', () => {
  const workflow = {
    name: 'w',
    tasks: [],
    inputs: { type: 'object', properties: { n: { type: 'number', default: 3 }, s: { type: 'string' } } },
  };
  it("applies the inputs schema's defaults and reports a bad value by its path, with how to give it", () => {
    expect(resolveInput(workflow as never, { s: 'a' })).toEqual({ n: 3, s: 'a' });
    expect(resolveInput({ name: 'w', tasks: [] } as never, { any: 1 })).toEqual({ any: 1 });
    let err: unknown;
    try {
      resolveInput(workflow as never, { n: 'three' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputValidationError);
    expect((err as InputValidationError).issues).toEqual([
      {
        code: 'invalid_value',
        path: 'input.n',
        message: expect.stringMatching(/expected number/),
        hint: 'pass it with --input key=value or --input-file',
      },
    ]);
  });
});

describe('runWorkflow before it starts', () => {
  it('a required field nothing gives is an input error; a bad literal a workflow error; both name the task', async () => {
    const missing = runWorkflow([{ id: 't', tool: 'need' }], { ...quiet, tools: [need], store: false });
    await expect(missing).rejects.toBeInstanceOf(InputValidationError);
    await expect(missing).rejects.toThrow(/task "t" \(need\) needs "topic" and nothing gives it/);
    // given by the run input: it runs
    const given = await runWorkflow([{ id: 't', tool: 'need' }], {
      ...quiet,
      tools: [need],
      store: false,
      input: { topic: 'kites' },
    });
    expect(given.tasks.t.output).toBe('kites');
    const bad = runWorkflow(
      [
        { id: 't', tool: 'need', input: { topic: 5 } },
        { id: 'u', tool: 'need' },
      ],
      { ...quiet, tools: [need], store: false },
    );
    await expect(bad).rejects.toBeInstanceOf(WorkflowValidationError);
    await expect(bad).rejects.toThrow(/tasks\[0\]\.input\.topic/);
  });

  it('the default tools are there unless builtins is false', async () => {
    const flow = [{ id: 'e', tool: 'echo', input: { value: 1 } }];
    const before = defaultTools();
    registerDefaultTools(() => [echo]);
    try {
      expect((await runWorkflow(flow, { classifier: null, store: false })).tasks.e.output).toBe(1);
      await expect(runWorkflow(flow, { ...quiet, store: false })).rejects.toThrow(/unknown tool "echo"/);
    } finally {
      registerDefaultTools(() => before);
    }
  });

  it('the record starts with a header: the workflow, the input, this process, where the run came from', async () => {
    const store = new MemoryRunStore();
    const source = { workflowFile: '/flows/w.yaml', tools: ['/flows/tools.mjs'] };
    const r = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echo],
      store,
      runId: 'r1',
      input: { a: 1 },
      recordSource: source,
    });
    const { header } = await store.read(r.runId);
    expect(header).toMatchObject({ type: 'run.record', version: 1, runId: 'r1', input: { a: 1 }, pid: process.pid });
    expect(header?.source).toEqual(source);
    await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echo],
      store,
      runId: 'r2',
    });
    expect((await store.read('r2')).header).not.toHaveProperty('source');
  });
});

describe('approvals, cancelling and resuming recorded runs', () => {
  const gated = {
    name: 'gated',
    tasks: [
      { id: 'draft', tool: 'echo', input: { value: 'text' } },
      { id: 'send', tool: 'echo', input: { value: 'sent' }, dependencies: ['draft'], approval: true },
      { id: 'after', tool: 'echo', input: { value: 'done' }, dependencies: ['send'] },
    ],
  };
  const waitingRun = async () => {
    const store = new MemoryRunStore();
    const r = await runWorkflow(gated, { ...quiet, tools: [echo], store });
    expect(r.status).toBe('waiting');
    return { store, runId: r.runId };
  };

  it('approveTask records the decision once, with who and why; unknown and non-waiting tasks are refused', async () => {
    const { store, runId } = await waitingRun();
    const refuse = (taskId: string) => approveTask(store, runId, taskId, { approved: true });
    await expect(refuse('nope')).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: `run "${runId}" has no task "nope"`,
      retryable: false,
    });
    await expect(refuse('draft')).rejects.toMatchObject({
      code: 'E_RUN_STATE',
      message: `task "draft" of run "${runId}" is succeeded, not waiting for approval (waiting: send)`,
      retryable: false,
    });
    await approveTask(store, runId, 'send', { approved: true, by: 'alice', comment: 'fine' });
    const approval = (await store.read(runId)).events.filter((e) => e.type === 'task.approval');
    expect(approval).toEqual([
      expect.objectContaining({ taskId: 'send', visit: 1, approved: true, by: 'alice', comment: 'fine' }),
    ]);
    await expect(approveTask(store, runId, 'send', { approved: false })).rejects.toMatchObject({
      code: 'E_RUN_STATE',
      message: `task "send" of run "${runId}" was already approved by alice; continue it with: braid resume ${runId}`,
      retryable: false,
    });
    const anonymous = await waitingRun();
    await approveTask(anonymous.store, anonymous.runId, 'send', { approved: false });
    const [event] = (await anonymous.store.read(anonymous.runId)).events.filter((e) => e.type === 'task.approval');
    expect(event).not.toHaveProperty('by');
    expect(event).not.toHaveProperty('comment');
    await expect(approveTask(anonymous.store, anonymous.runId, 'send', { approved: true })).rejects.toThrow(
      /was already rejected; continue it with/,
    );
  });

  it('resuming with an approval continues the run under one lock; a succeeded run comes back as it was', async () => {
    const { store, runId } = await waitingRun();
    const pending = await prepareResume(runId, {
      store,
      ...quiet,
      tools: [echo],
      approve: { taskId: 'send', approved: true },
    });
    expect(pending.workflow).toBe('gated');
    const done = await pending.start();
    expect(done.status).toBe('succeeded');
    expect(done.tasks.after.output).toBe('done');
    const events = (await store.read(runId)).events;
    expect(events.filter((e) => e.type === 'task.approval')).toHaveLength(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1)); // the decision took the next number
    // again: nothing runs, the same result, and the lock is free afterwards
    const again = await prepareResume(runId, { store, ...quiet, tools: [echo] });
    expect(again.workflow).toBe('gated');
    expect(await again.start()).toEqual(done);
    const third = await prepareResume(runId, { store, ...quiet, tools: [echo] });
    third.release();
    expect((await store.read(runId)).events).toHaveLength(events.length);
  });

  it('cancelRecordedRun skips what had not finished and ends the run cancelled; a finished run is refused', async () => {
    const { store, runId } = await waitingRun();
    const r = await cancelRecordedRun(store, runId);
    expect(r.status).toBe('cancelled');
    expect(r.tasks.draft.status).toBe('succeeded');
    expect(r.tasks.send).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    expect(r.tasks.after).toMatchObject({ status: 'skipped', reason: 'cancelled' });
    const finished = (await store.read(runId)).events.at(-1);
    expect(finished).toMatchObject({ type: 'run.finished', status: 'cancelled' });
    expect((finished as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(0);
    await expect(cancelRecordedRun(store, runId)).rejects.toMatchObject({
      code: 'E_RUN_STATE',
      message: `run "${runId}" already finished (cancelled)`,
      retryable: false,
    });
    const ok = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], { ...quiet, tools: [echo], store });
    await expect(cancelRecordedRun(store, ok.runId)).rejects.toThrow(/already finished \(succeeded\)/);
    await expect(cancelRecordedRun(store, 'missing')).rejects.toBeInstanceOf(BraidError);
  });
});
