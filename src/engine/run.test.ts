/**
 * run.ts's own rules (issue 21: its first mutation pass left them to the CLI suites, which a mutant of src/
 * never reaches): run ids, input limits and input checks, built-ins, the record's header, approvals,
 * cancelling a recorded run, resuming a finished one.
 */
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { RunEvent, RunEventBody } from '../core/events.js';
import { BraidError, InputValidationError, WorkflowValidationError } from '../errors.js';
import { foldRun } from '../store/fold.js';
import { JsonlRunStore } from '../store/jsonl/index.js';
import { MemoryRunStore } from '../store/memory-store.js';
import type { RunHeader, RunLockHandle, RunLog } from '../store/types.js';
import { defineTool } from '../toolkit/define-tool.js';
import { defaultTools, registerDefaultTools } from '../toolkit/defaults.js';
import {
  INPUT_LIMITS,
  approveTask,
  cancelRecordedRun,
  checkInputLimits,
  newRunId,
  prepareResume,
  resolveInput,
  resumeRun,
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
  it('a run id given must be one every store and queue can hold, whatever the store', async () => {
    for (const runId of ['a|b', 'a:b', '../x', '', '.hidden']) {
      const run = runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], {
        ...quiet,
        tools: [echo],
        store: false,
        runId,
      });
      await expect(run).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
      await expect(run).rejects.toThrow(`invalid run id "${runId}" (letters, digits, _ . -, at most 200 characters)`);
    }
    const ok = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echo],
      store: false,
      runId: 'nightly-2026.12.07_a',
    });
    expect(ok.runId).toBe('nightly-2026.12.07_a');
  });

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
    expect(header).toMatchObject({ type: 'run.record', version: 3, runId: 'r1', input: { a: 1 }, pid: process.pid });
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
      message: `task "draft" of run "${runId}" has no approval: it never waits for a decision (waiting: send)`,
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

/** A record's header for a run of one `echo` task, written by this process unless `pid` says otherwise. */
const headerOf = (runId: string, more: Partial<RunHeader> = {}): RunHeader => ({
  type: 'run.record',
  version: 1,
  runId,
  createdAt: new Date().toISOString(),
  workflow: { name: 'forged', tasks: [{ id: 'a', tool: 'echo', input: { value: 1 } }] } as RunHeader['workflow'],
  input: {},
  pid: process.pid,
  ...more,
});

/** A record of the given events, numbered and stamped as a writer would, `ageMs` ago. */
async function forged(
  store: MemoryRunStore,
  runId: string,
  events: RunEventBody[],
  more: Partial<RunHeader> = {},
  ageMs = 5000,
) {
  const log = await store.create(headerOf(runId, more));
  const ts = new Date(Date.now() - ageMs).toISOString();
  events.forEach((e, i) => log.append({ ts, ...e, runId, seq: i + 1 } as RunEvent));
  await log.close();
}

/** A pid no process has (the highest there can be, plus one). */
const deadPid = 4_194_305;

describe('records that are not whole', () => {
  const headerless = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-run-'));
    const store = new JsonlRunStore(dir);
    const r = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], { ...quiet, tools: [echo], store });
    const file = join(dir, `${r.runId}.jsonl`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^[^\n]*/, '{"not": "a header"}'));
    return { store, runId: r.runId, done: () => rmSync(dir, { recursive: true, force: true }) };
  };

  it('a record without its header line cannot be resumed or cancelled (E_RECORD, with what is wrong)', async () => {
    const { store, runId, done } = await headerless();
    try {
      const message = new RegExp(`^run "${runId}" has no header line: .*; line 1: not an event, ignored$`);
      for (const attempt of [() => prepareResume(runId, { store, ...quiet }), () => cancelRecordedRun(store, runId)]) {
        const err = await attempt().catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'E_RECORD', retryable: false });
        expect((err as Error).message).toMatch(message);
      }
      // the lock was given back each time
      (await store.lock(runId)).release();
    } finally {
      done();
    }
  });

  it('an interrupted or still-running record is cancelled: its running tasks are skipped, the duration counts from its start', async () => {
    const started = [
      { type: 'run.started', workflow: 'forged', input: {} },
      { type: 'task.started', taskId: 'a', attempt: 1, visit: 1, input: { value: 1 } },
    ] as RunEventBody[];
    /** Reads a record as live, as the Redis store does while its lock is held (here, by the cancel itself). */
    class LiveStore extends MemoryRunStore {
      override async read(runId: string) {
        return { ...(await super.read(runId)), live: true };
      }
    }
    for (const store of [new MemoryRunStore(), new LiveStore()]) {
      await forged(store, 'x', started, { pid: deadPid });
      expect(foldRun(await store.read('x')).status).toBe(store instanceof LiveStore ? 'running' : 'interrupted');
      const r = await cancelRecordedRun(store, 'x');
      expect(r.status).toBe('cancelled');
      expect(r.tasks.a).toMatchObject({ status: 'skipped', reason: 'cancelled' });
      const finished = (await store.read('x')).events.at(-1) as Extract<RunEvent, { type: 'run.finished' }>;
      expect(finished.durationMs).toBeGreaterThanOrEqual(5000);
      expect(finished.durationMs).toBeLessThan(60_000);
    }
    // a start in the future (another machine's clock) counts as no time, not less
    const store = new MemoryRunStore();
    await forged(store, 'future', started.slice(0, 1), { pid: deadPid }, -60_000);
    await cancelRecordedRun(store, 'future');
    expect((await store.read('future')).events.at(-1)).toMatchObject({ type: 'run.finished', durationMs: 0 });
  });

  it('refusing to cancel a finished run gives its lock back', async () => {
    const store = new MemoryRunStore();
    const r = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], { ...quiet, tools: [echo], store });
    for (let i = 0; i < 2; i++)
      await expect(cancelRecordedRun(store, r.runId)).rejects.toMatchObject({ code: 'E_RUN_STATE' });
  });
});

describe('approvals: which decision is whose', () => {
  const twoGates = {
    name: 'two-gates',
    tasks: [
      { id: 'left', tool: 'echo', input: { value: 'l' }, approval: true },
      { id: 'right', tool: 'echo', input: { value: 'r' }, approval: true },
      { id: 'plain', tool: 'echo', input: { value: 'p' } },
    ],
  };

  it('a refusal lists every task that waits; a decision on one task is not taken for the other', async () => {
    const store = new MemoryRunStore();
    const { runId } = await runWorkflow(twoGates, { ...quiet, tools: [echo], store });
    await expect(approveTask(store, runId, 'plain', { approved: true })).rejects.toThrow(
      `task "plain" of run "${runId}" has no approval: it never waits for a decision (waiting: left, right)`,
    );
    await approveTask(store, runId, 'left', { approved: true });
    await approveTask(store, runId, 'right', { approved: false });
    const r = await resumeRun(runId, { store, ...quiet, tools: [echo] });
    expect(r.tasks.left.status).toBe('succeeded');
    expect(r.tasks.right.status).not.toBe('succeeded');
  });

  it('when nothing waits, the refusal says only what the task is', async () => {
    const store = new MemoryRunStore();
    const { runId } = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], {
      ...quiet,
      tools: [echo],
      store,
    });
    await expect(approveTask(store, runId, 'e', { approved: true })).rejects.toThrow(
      new RegExp(`^task "e" of run "${runId}" has no approval: it never waits for a decision$`),
    );
  });

  it('a task routed back to its approval waits again, and the new visit takes a new decision', async () => {
    let checks = 0;
    const check = defineTool({
      name: 'check',
      input: z.object({}),
      run: () => {
        if (++checks === 1) throw new BraidError('E_TOOL', 'not good yet', { retryable: false });
        return 'good';
      },
    });
    const store = new MemoryRunStore();
    const options = { ...quiet, tools: [echo, check], store } as const;
    const loop = [
      { id: 'start', tool: 'echo', input: { value: 'idea' }, next_task_id_on_success: 'gate' },
      { id: 'gate', tool: 'echo', input: { value: 'go' }, approval: true, next_task_id_on_success: 'check' },
      { id: 'check', tool: 'check', input: {}, next_task_id_on_failure: 'gate' },
    ];
    const { runId } = await runWorkflow(loop, options);
    const second = await resumeRun(runId, { ...options, approve: { taskId: 'gate', approved: true } });
    expect(second.status).toBe('waiting');
    expect(second.tasks.gate.visits).toBe(2);
    await approveTask(store, runId, 'gate', { approved: true, by: 'bob' });
    const done = await resumeRun(runId, options);
    expect(done.status).toBe('succeeded');
    expect(done.tasks.check.output).toBe('good');
  });

  it('a pending resume given up frees the run: a succeeded one and one that would continue', async () => {
    const store = new MemoryRunStore();
    const waiting = await runWorkflow(twoGates, { ...quiet, tools: [echo], store });
    const ok = await runWorkflow([{ id: 'e', tool: 'echo', input: { value: 1 } }], { ...quiet, tools: [echo], store });
    for (const runId of [waiting.runId, ok.runId]) {
      (await prepareResume(runId, { store, ...quiet, tools: [echo] })).release();
      (await store.lock(runId)).release();
    }
  });

  it('the signal given to start cancels the continued run', async () => {
    const store = new MemoryRunStore();
    const { runId } = await runWorkflow(twoGates, { ...quiet, tools: [echo], store });
    const pending = await prepareResume(runId, {
      store,
      ...quiet,
      tools: [echo],
      approve: { taskId: 'left', approved: true },
    });
    const r = await pending.start({ signal: AbortSignal.abort() });
    expect(r.status).toBe('cancelled');
  });
});

/** A memory store whose logs fail: after `after` events (as a full disk would), and/or when closed. */
class FailingStore extends MemoryRunStore {
  constructor(private readonly fault: { after?: number; closeWith?: 'failure' | Error }) {
    super();
  }
  override async create(header: RunHeader) {
    return this.#wrap(await super.create(header));
  }
  override async reopen(runId: string, lock?: RunLockHandle) {
    return this.#wrap(await super.reopen(runId, lock));
  }
  #wrap(inner: RunLog): RunLog {
    const { after = Infinity, closeWith } = this.fault;
    const diskFull = () => new BraidError('E_STORE', 'disk full (test)');
    let count = 0;
    const log: RunLog & { failure?: BraidError } = {
      append: (e) => {
        if (log.failure) return;
        if (++count > after) {
          log.failure = diskFull();
          queueMicrotask(() => log.onFailure?.(log.failure!));
        } else inner.append(e);
      },
      flush: () => inner.flush(),
      flushSync: () => inner.flushSync(),
      close: async () => {
        await inner.close();
        if (closeWith === 'failure') log.failure ??= diskFull();
        const err = closeWith instanceof Error ? closeWith : log.failure;
        if (err) throw err;
      },
    };
    return log;
  }
}

describe('a record that cannot take more events', () => {
  const slow = defineTool({
    name: 'slow',
    input: z.object({}),
    run: (_, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve('late'), 5000);
        ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)));
      }),
  });

  it('fails the run with the store error; running tasks are cancelled', async () => {
    const r = await runWorkflow([{ id: 's', tool: 'slow', input: {} }], {
      ...quiet,
      tools: [slow],
      store: new FailingStore({ after: 2 }),
    });
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'E_STORE', message: 'disk full (test)' });
  });

  it('a close that fails with an error of its own is a warning naming the run; the failure already reported is not', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const flow = [{ id: 'e', tool: 'echo', input: { value: 1 } }];
      const r = await runWorkflow(flow, {
        ...quiet,
        tools: [echo],
        store: new FailingStore({ closeWith: new Error('lost the disk') }),
      });
      expect(r.status).toBe('succeeded');
      await new Promise((resolve) => setImmediate(resolve));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(`braid: run record ${r.runId}: lost the disk`);
      warn.mockClear();
      await runWorkflow(flow, { ...quiet, tools: [echo], store: new FailingStore({ closeWith: 'failure' }) });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('cancelling a recorded run whose record fails on close reports that failure', async () => {
    const store = new FailingStore({ closeWith: 'failure' });
    // writing the forged record fails on close too, after its events are in
    await forged(store, 'x', [{ type: 'run.started', workflow: 'forged', input: {} }] as RunEventBody[], {
      pid: deadPid,
    }).catch(() => {});
    await expect(cancelRecordedRun(store, 'x')).rejects.toMatchObject({ code: 'E_STORE' });
  });
});

describe('child runs (ctx.children)', () => {
  let failNext = true;
  const spawn = defineTool({
    name: 'spawn',
    input: z.object({ value: z.unknown() }),
    run: async ({ value }, ctx) => {
      const child = await ctx.children!.run([{ id: 'c', tool: 'echo', input: { value: '{{ input.value }}' } }], {
        value,
      });
      if (failNext) throw new BraidError('E_TOOL', 'after the child', { retryable: false });
      return child.tasks.c.output;
    },
  });
  const childIds = (events: readonly RunEvent[]) =>
    events.flatMap((e) => (e.type === 'task.child' ? [e.childRunId] : []));

  it('are recorded in the run store; a resumed run gives its new child a new id (-r2, -r3)', async () => {
    const store = new MemoryRunStore();
    const options = { ...quiet, tools: [echo, spawn], store } as const;
    failNext = true;
    const first = await runWorkflow([{ id: 's', tool: 'spawn', input: { value: 7 } }], options);
    expect(first.status).toBe('failed');
    const base = `${first.runId}.s.1.1`;
    expect((await store.read(base)).header?.input).toEqual({ value: 7 });
    await resumeRun(first.runId, options);
    failNext = false;
    const done = await resumeRun(first.runId, options);
    expect(done.tasks.s.output).toBe(7);
    const ids = childIds((await store.read(first.runId)).events);
    expect(ids).toEqual([base, `${base}-r2`, `${base}-r3`]);
    for (const id of ids) expect(foldRun(await store.read(id)).tasks.c.output).toBe(7);
  });

  it("get exactly the run's tools: no built-ins when the run has none", async () => {
    const before = defaultTools();
    const marker = defineTool({ name: 'marker', input: z.object({}), run: () => 'built-in' });
    registerDefaultTools(() => [marker]);
    failNext = false;
    try {
      const uses = defineTool({
        name: 'uses',
        input: z.object({}),
        run: async (_, ctx) => (await ctx.children!.run([{ id: 'm', tool: 'marker', input: {} }])).tasks.m.output,
      });
      const r = await runWorkflow([{ id: 'u', tool: 'uses', input: {} }], { ...quiet, tools: [uses], store: false });
      expect(r.tasks.u.status).toBe('failed');
      expect(r.tasks.u.error?.message).toMatch(/unknown tool "marker"/);
    } finally {
      registerDefaultTools(() => before);
    }
  });
});

describe('where tools come from', () => {
  it('a tool with slow set-up is warmed once before the run, whatever the number of its tasks', async () => {
    let warmed = 0;
    const warm = { ...echo, warm: () => void warmed++ };
    await runWorkflow(
      [
        { id: 'a', tool: 'echo', input: { value: 1 } },
        { id: 'b', tool: 'echo', input: { value: 2 } },
      ],
      { ...quiet, tools: [warm], store: false },
    );
    expect(warmed).toBe(1);
  });

  it('a bad literal that on_failure may repair does not stop the run from starting', async () => {
    const r = await runWorkflow(
      [{ id: 't', tool: 'need', input: { topic: 5 }, on_failure: [{ adjust: { input: { topic: 'fixed' } } }] }],
      { ...quiet, tools: [need], store: false },
    );
    expect(r.tasks.t.output).toBe('fixed');
  });

  it("a workflow module's own tools are used; an unknown tool is named by its task", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-run-'));
    try {
      const file = join(dir, 'flow.mjs');
      writeFileSync(
        file,
        "export const stamp = { name: 'stamp', run: () => 'stamped' };\n" +
          "export default { name: 'w', tasks: [{ id: 's', tool: 'stamp' }] };\n",
      );
      expect((await runWorkflow(file, { ...quiet, store: false })).tasks.s.output).toBe('stamped');
      const builder = { build: () => ({ name: 'w', tasks: [{ id: 's', tool: 'stamp' }] }), tools: [] };
      for (const source of [builder, join(dir, 'missing-tool.json')]) {
        writeFileSync(join(dir, 'missing-tool.json'), JSON.stringify(builder.build()));
        const err = await runWorkflow(source, { ...quiet, store: false }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowValidationError);
        expect((err as WorkflowValidationError).issues).toEqual([
          expect.objectContaining({ code: 'unknown_tool', path: 'tasks[0].tool' }),
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP tool sources', () => {
  const shout = defineTool({
    name: 'remote.shout',
    input: z.object({ text: z.string() }),
    run: ({ text }) => text.toUpperCase(),
  });
  const flow = [
    { id: 'a', tool: 'remote.shout', input: { text: 'hi' } },
    { id: 'b', tool: 'echo', input: { value: '{{ tasks.a.output }}' }, dependencies: ['a'] },
  ];

  it("an open source's tools join the run's own; an empty config starts nothing", async () => {
    const r = await runWorkflow(flow, { ...quiet, tools: [echo], store: false, mcp: { tools: async () => [shout] } });
    expect(r.tasks.b.output).toBe('HI');
    const plain = await runWorkflow(
      [flow[1]].map((t) => ({ ...t, dependencies: [], input: { value: 1 } })),
      {
        ...quiet,
        tools: [echo],
        store: false,
        mcp: {},
      },
    );
    expect(plain.status).toBe('succeeded');
  });

  /** Processes whose command line mentions `text` (Linux). */
  const processesWith = (text: string) =>
    readdirSync('/proc').filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });

  it.runIf(process.platform === 'linux')(
    "a workflow's own server (a real one, over stdio) serves the run and its resume, and is stopped after each",
    { timeout: 30_000 },
    async () => {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), 'braid-run-mcp-')));
      const stopped = async () => {
        for (let i = 0; i < 50 && processesWith(dir).length; i++) await new Promise((ok) => setTimeout(ok, 50));
        return processesWith(dir);
      };
      try {
        writeFileSync(join(dir, 'note.txt'), 'from a file');
        const server = join(process.cwd(), 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
        const store = new MemoryRunStore();
        const options = { ...quiet, tools: [echo], store };
        const servers = { files: { command: process.execPath, args: [server, dir] } };
        const r = await runWorkflow(
          {
            name: 'mcp-gate',
            mcp_servers: servers,
            tasks: [
              { id: 'read', tool: 'files.read_text_file', input: { path: join(dir, 'note.txt') } },
              { id: 'gate', tool: 'echo', input: { value: 'sent' }, dependencies: ['read'], approval: true },
            ],
          },
          options,
        );
        expect(r.status).toBe('waiting');
        expect(JSON.stringify(r.tasks.read.output)).toContain('from a file');
        expect(await stopped()).toEqual([]);
        // A recorded workflow starts only the servers this process allows (workflow-spec.md §9).
        await expect(prepareResume(r.runId, options)).rejects.toMatchObject({
          code: 'E_CONFIG',
          message: expect.stringContaining('MCP server "files" is not in this process\'s allow-list'),
        });
        const allowed = { ...options, allowMcp: servers };
        (await prepareResume(r.runId, allowed)).release();
        expect(await stopped()).toEqual([]);
        const done = await resumeRun(r.runId, { ...allowed, approve: { taskId: 'gate', approved: true } });
        expect(done.tasks.gate.output).toBe('sent');
        expect(await stopped()).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('approvals with data (workflow-spec.md §2)', () => {
  const flow = {
    name: 'edited',
    tasks: [
      { id: 'draft', tool: 'echo', input: { value: { to: 'ana', n: 3 } } },
      {
        id: 'send',
        tool: 'echo',
        input: { value: '{{ tasks.draft.output }}' },
        approval: { edit: true, when: 'output.n > 2 and input.value.to = "ana"' },
        dependencies: ['draft'],
      },
    ],
  };

  it('the waiting input and its hash are in the result; an edit recorded alone is applied when the run goes on', async () => {
    const store = new MemoryRunStore();
    const paused = await runWorkflow(flow, { ...quiet, tools: [echo], store });
    expect(paused.status).toBe('waiting');
    const { input, inputHash } = paused.tasks.send;
    expect(input).toEqual({ value: { to: 'ana', n: 3 } });
    await approveTask(
      store,
      paused.runId,
      'send',
      {
        approved: true,
        by: 'bo',
        inputHash,
        edit: { value: { to: 'cy', n: 3, cc: ['dee'] } },
      },
      { tools: [echo] },
    );
    const [decision] = (await store.read(paused.runId)).events.filter((e) => e.type === 'task.approval');
    expect(decision).toMatchObject({
      inputHash,
      patch: [
        { op: 'replace', path: '/value/to', value: 'cy' },
        { op: 'add', path: '/value/cc', value: ['dee'] },
      ],
    });
    const done = await resumeRun(paused.runId, { store, ...quiet, tools: [echo] });
    expect(done.tasks.send).toMatchObject({ status: 'succeeded', output: { to: 'cy', n: 3, cc: ['dee'] } });
    expect(done.tasks.send.inputSources).toBeUndefined();
  });

  it('`when` falsy runs the task at once; `when` that throws fails it with E_EXPRESSION', async () => {
    const small = structuredClone(flow);
    small.tasks[0].input = { value: { to: 'ana', n: 1 } };
    const ran = await runWorkflow(small, { ...quiet, tools: [echo] });
    expect(ran.status).toBe('succeeded');
    expect(ran.tasks.send.output).toEqual({ to: 'ana', n: 1 });
    const broken = structuredClone(flow);
    (broken.tasks[1].approval as { when: string }).when = '$error("no")';
    const failed = await runWorkflow(broken, { ...quiet, tools: [echo] });
    expect(failed.tasks.send.error).toMatchObject({ code: 'E_EXPRESSION', message: 'approval.when failed: no' });
  });

  it('without a tool here the edit cannot be checked, and nothing is recorded', async () => {
    const store = new MemoryRunStore();
    const paused = await runWorkflow(flow, { ...quiet, tools: [echo], store });
    await expect(
      approveTask(store, paused.runId, 'send', { approved: true, edit: { value: 1 } }),
    ).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/its tool "echo" is not known here/) });
    expect((await store.read(paused.runId)).events.some((e) => e.type === 'task.approval')).toBe(false);
  });

  it('a rejection skips the task (reason rejected) and an edit cannot go with it', async () => {
    const store = new MemoryRunStore();
    const paused = await runWorkflow(flow, { ...quiet, tools: [echo], store });
    await expect(
      approveTask(store, paused.runId, 'send', { approved: false, edit: { value: 1 } }, { tools: [echo] }),
    ).rejects.toThrow('an edited input goes with an approval, not a rejection');
    const done = await resumeRun(paused.runId, {
      store,
      ...quiet,
      tools: [echo],
      approve: { taskId: 'send', approved: false, comment: 'no' },
    });
    expect(done.status).toBe('succeeded');
    expect(done.tasks.send).toMatchObject({ status: 'skipped', reason: 'rejected' });
  });
});
