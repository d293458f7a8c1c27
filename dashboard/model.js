// A run as the page shows it, built from its events (the same events `GET /runs/:id/events` streams):
// per task its status, label, attempts with errors, LLM calls, logs, for_each items and visits; per run
// its status, output, usage and child runs. Pure: no DOM, so it also runs under Node in the unit tests.

const TERMINAL = new Set(['succeeded', 'failed', 'skipped']);

export function newRun(runId, taskIds = []) {
  const run = {
    runId,
    status: 'running',
    startedAt: undefined,
    endedAt: undefined,
    output: undefined,
    hasOutput: false,
    error: undefined,
    input: undefined,
    tasks: new Map(),
    order: [],
    children: [],
    routes: new Map(),
    logs: [],
    usage: emptyUsage(),
    lastSeq: 0,
    version: 0,
  };
  for (const id of taskIds) task(run, id);
  return run;
}

const emptyUsage = () => ({
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  costUsd: 0,
  calls: 0,
  unpriced: false,
});

function task(run, id) {
  let t = run.tasks.get(id);
  if (!t) {
    t = {
      id,
      status: 'pending',
      reason: undefined,
      label: undefined,
      labelSource: undefined,
      labelReason: undefined,
      output: undefined,
      hasOutput: false,
      error: undefined,
      visits: 0,
      attempts: [],
      llm: [],
      logs: [],
      items: new Map(),
      sources: undefined,
      recoveries: [],
      approval: undefined,
      tool: undefined,
      usage: emptyUsage(),
    };
    run.tasks.set(id, t);
    run.order.push(id);
  }
  return t;
}

function addUsage(u, call) {
  u.promptTokens += call.promptTokens ?? 0;
  u.completionTokens += call.completionTokens ?? 0;
  u.totalTokens += call.totalTokens ?? 0;
  if (call.costUsd === null || call.costUsd === undefined) u.unpriced = true;
  else u.costUsd += call.costUsd;
  u.calls++;
}

/** The attempt an event belongs to: the open one of this task (and for_each item). */
function openAttempt(t, item) {
  for (let k = t.attempts.length - 1; k >= 0; k--) {
    const a = t.attempts[k];
    if (a.status === 'running' && a.item === item) return a;
  }
  return undefined;
}

function closeAll(t, ts, status, error) {
  for (const a of t.attempts)
    if (a.status === 'running') Object.assign(a, { status, endedAt: ts, ...(error ? { error } : {}) });
}

/** Apply one event (in `seq` order; an event already applied is ignored, so a replayed stream is harmless). */
export function apply(run, e) {
  if (e.seq <= run.lastSeq) return false;
  run.lastSeq = e.seq;
  run.version++;
  const t = e.taskId ? task(run, e.taskId) : undefined;
  switch (e.type) {
    case 'run.started':
      run.startedAt = e.ts;
      run.input = e.input;
      run.workflow = e.workflow;
      break;
    case 'run.resumed':
      run.status = 'running';
      run.endedAt = undefined;
      run.error = undefined;
      for (const x of run.tasks.values())
        closeAll(x, e.ts, 'failed', { message: 'the process stopped while this attempt ran' });
      break;
    case 'run.finished':
      run.status = e.status;
      run.endedAt = e.ts;
      run.error = e.error;
      run.hasOutput = 'output' in e;
      run.output = e.output;
      for (const x of run.tasks.values()) closeAll(x, e.ts, 'failed');
      break;
    case 'task.ready':
      t.visits = e.visit;
      t.status = 'pending';
      if (e.routedFrom) t.routedFrom = e.routedFrom;
      break;
    case 'task.started':
      t.status = 'running';
      t.tool = e.tool;
      if (e.sources) t.sources = e.sources;
      // The input the attempt actually received (templates rendered), as the record keeps it (spec §7a).
      if (e.inputHash !== undefined)
        Object.assign(t, { received: e.input, receivedBytes: e.inputBytes, inputHash: e.inputHash });
      t.attempts.push({
        attempt: e.attempt,
        visit: e.visit,
        item: e.item,
        tool: e.tool,
        startedAt: e.ts,
        endedAt: undefined,
        status: 'running',
        error: undefined,
      });
      if (e.item !== undefined) t.items.set(e.item, 'running');
      break;
    case 'task.retrying': {
      const a = openAttempt(t, e.item);
      if (a) Object.assign(a, { status: 'retrying', endedAt: e.ts, error: e.error, delayMs: e.delayMs });
      break;
    }
    case 'task.recovery': {
      const a = openAttempt(t, e.item);
      if (a) Object.assign(a, { status: 'failed', endedAt: e.ts, error: e.error });
      t.recoveries.push({
        action: e.action,
        attempt: e.attempt,
        input: e.input,
        tool: e.tool,
        error: e.error,
        failed: e.failed,
      });
      break;
    }
    case 'task.progress': {
      const d = e.data;
      if (d && typeof d.item === 'number') {
        t.items.set(d.item, d.status === 'succeeded' ? 'succeeded' : 'failed');
        const a = openAttempt(t, d.item);
        if (a) Object.assign(a, { status: d.status === 'succeeded' ? 'succeeded' : 'failed', endedAt: e.ts });
      }
      if (e.message) t.logs.push({ ts: e.ts, level: 'progress', message: e.message });
      break;
    }
    case 'task.labeled':
      t.pendingLabel = { label: e.label, labelSource: e.source, labelReason: e.reason };
      break;
    case 'task.succeeded':
      Object.assign(t, {
        status: 'succeeded',
        reason: undefined,
        error: undefined,
        label: undefined,
        labelSource: undefined,
        labelReason: undefined,
        ...(t.pendingLabel ?? {}),
      });
      t.pendingLabel = undefined;
      t.hasOutput = 'output' in e;
      t.output = e.output;
      if (e.replayed) t.replayed = true;
      closeAll(t, e.ts, 'succeeded');
      break;
    case 'task.failed':
      Object.assign(t, { status: 'failed', reason: undefined, error: e.error, pendingLabel: undefined });
      closeAll(t, e.ts, 'failed', e.error);
      break;
    case 'task.skipped':
      Object.assign(t, { status: 'skipped', reason: e.reason, error: e.error });
      break;
    case 'task.waiting':
      t.status = 'waiting';
      t.visits = Math.max(t.visits, e.visit);
      break;
    case 'task.approval':
      t.approval = { approved: e.approved, by: e.by, comment: e.comment, ts: e.ts };
      break;
    case 'task.child':
      if (!run.children.some((c) => c.childRunId === e.childRunId))
        run.children.push({ taskId: e.taskId, childRunId: e.childRunId });
      break;
    case 'task.routed': {
      const key = `${e.taskId}->${e.to}`;
      run.routes.set(key, (run.routes.get(key) ?? 0) + 1);
      break;
    }
    case 'task.log':
      (t ?? run).logs.push({ ts: e.ts, level: e.level, message: e.message, fields: e.fields });
      break;
    case 'llm.call':
      addUsage(run.usage, e.usage);
      if (t) {
        addUsage(t.usage, e.usage);
        t.llm.push({
          ts: e.ts,
          provider: e.provider,
          model: e.model,
          purpose: e.purpose,
          latencyMs: e.latencyMs,
          usage: e.usage,
          error: e.error,
          childRunId: e.childRunId,
        });
      }
      break;
  }
  return true;
}

export const isTerminal = (status) => TERMINAL.has(status);

/** Counts per task status. */
export function counts(run) {
  const n = {};
  for (const t of run.tasks.values()) n[t.status] = (n[t.status] ?? 0) + 1;
  return n;
}

/** for_each progress of a task: items started and finished. */
export function itemProgress(t) {
  let done = 0;
  for (const s of t.items.values()) if (s !== 'running') done++;
  return { total: t.items.size, done };
}

/** Gantt rows: one bar per attempt; open ones end at `now`. */
export function timeline(run, now = Date.now()) {
  const rows = [];
  let t0 = Infinity;
  let t1 = 0;
  for (const id of run.order) {
    const t = run.tasks.get(id);
    const bars = t.attempts.map((a) => {
      const start = Date.parse(a.startedAt);
      const end = a.endedAt ? Date.parse(a.endedAt) : now;
      t0 = Math.min(t0, start);
      t1 = Math.max(t1, end);
      return { start, end, status: a.status, attempt: a.attempt, item: a.item };
    });
    rows.push({ id, status: t.status, bars });
  }
  if (t0 === Infinity) t0 = t1 = run.startedAt ? Date.parse(run.startedAt) : now;
  return { rows, t0, t1: Math.max(t1, t0 + 1) };
}
