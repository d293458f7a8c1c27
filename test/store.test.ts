/** The run store: group-committed JSONL, the result rebuilt from events, resume, approvals, logs and traces. */
import { InMemorySpanExporter, SimpleSpanProcessor, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { TRIGGER_RULES } from '../src/spec/schema.js';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  approveTask,
  foldRun,
  JsonlRunStore,
  resumeRun,
  runWorkflow,
  type RunEvent,
  type RunResult,
} from '../src/index.js';
import { createLogger, eventLogger, otelListener } from '../src/monitor/index.js';
import { recorder } from './support/tools.js';
import { braid } from './support/cli.js';

const tmpStore = () => new JsonlRunStore(mkdtempSync(join(tmpdir(), 'braid-store-')));

/** What the record must agree on with the result runWorkflow returned. */
const essence = (r: Pick<RunResult, 'status' | 'tasks'>) => ({
  status: r.status,
  tasks: Object.fromEntries(
    Object.entries(r.tasks).map(([id, t]) => [
      id,
      {
        status: t.status,
        reason: t.reason,
        output: t.output,
        label: t.label,
        error: t.error?.code,
        attempts: t.attempts,
        visits: t.visits,
      },
    ]),
  ),
});

const dag = fc.integer({ min: 1, max: 20 }).chain((n) =>
  fc
    .array(
      fc.record({
        deps: fc.uniqueArray(fc.nat({ max: 1000 }), { maxLength: 3 }),
        fail: fc.boolean(),
        rule: fc.constantFrom(...TRIGGER_RULES),
      }),
      { minLength: n, maxLength: n },
    )
    .map((specs) =>
      specs.map((s, i) => ({
        id: `t${i}`,
        tool: 'work',
        input: { value: i, fail: s.fail },
        dependencies: i === 0 ? [] : [...new Set(s.deps.map((d) => `t${d % i}`))],
        trigger_rule: s.rule,
      })),
    ),
);

describe('run record', () => {
  it('on random DAGs: events are numbered 1..n without gaps, each task ends once, and the record rebuilds the returned result', async () => {
    const store = tmpStore();
    await fc.assert(
      fc.asyncProperty(dag, async (tasks) => {
        const rec = recorder();
        const seen: RunEvent[] = [];
        const result = await runWorkflow(
          { tasks },
          { tools: rec.tools, store, onEvent: (e) => seen.push(e), classifier: null },
        );
        const record = await store.read(result.runId);
        expect(record.problems).toEqual([]);
        expect(record.events).toEqual(JSON.parse(JSON.stringify(seen)));
        expect(record.events.map((e) => e.seq)).toEqual(record.events.map((_, i) => i + 1));
        expect(record.events[0].type).toBe('run.started');
        expect(record.events.at(-1)!.type).toBe('run.finished');
        const ends = record.events.filter(
          (e) => e.type === 'task.succeeded' || e.type === 'task.failed' || e.type === 'task.skipped',
        );
        expect(ends.map((e) => ('taskId' in e ? e.taskId : '')).sort()).toEqual(tasks.map((t) => t.id).sort());
        expect(essence(foldRun(record) as RunResult)).toEqual(essence(JSON.parse(JSON.stringify(result))));
      }),
      { numRuns: 40 },
    );
  });

  it('keeps every event of a 2000-task run (group commit) and reads a truncated or corrupt tail without throwing', async () => {
    const store = tmpStore();
    const tasks = Array.from({ length: 2000 }, (_, i) => ({ id: `t${i}`, tool: 'work', input: { value: i } }));
    const rec = recorder();
    const result = await runWorkflow({ name: 'many', tasks }, { tools: rec.tools, store, classifier: null });
    const file = join(store.dir, `${result.runId}.jsonl`);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 2 + 2000 * 3); // header, run.started/finished, ready+started+succeeded per task
    appendFileSync(file, 'not json\n{"seq": 9999, "type": "task.su');
    const record = await store.read(result.runId);
    expect(record.events).toHaveLength(2 + 6000);
    expect(record.problems).toEqual([
      `line ${lines.length + 1}: not valid JSON, ignored`,
      expect.stringMatching(new RegExp(`^line ${lines.length + 2}: truncated last line`)),
    ]);
    expect(foldRun(record).status).toBe('succeeded');
  });
});

describe('resume', () => {
  it('reuses recorded successes (outputs and labels) and runs the rest; the result is rebuilt from the whole record', async () => {
    const store = tmpStore();
    const rec = recorder();
    const flow = {
      name: 'flaky',
      tasks: [
        { id: 'a', tool: 'work', input: { value: { label: 'good' } } },
        { id: 'b', tool: 'work', input: { value: 'b' }, condition: { depends_on: 'a', if_result: 'good' } },
        { id: 'c', tool: 'work', input: { fail: true, value: 'c' }, dependencies: ['a'] },
        { id: 'd', tool: 'work', input: { value: '{{ tasks.c.output }}' }, dependencies: ['b', 'c'] },
      ],
    };
    const first = await runWorkflow(flow, { tools: rec.tools, store, classifier: null });
    expect(first.status).toBe('failed');
    expect(rec.calls.map((c) => c.taskId).sort()).toEqual(['a', 'b', 'c']);

    // The fixed tool: same name, now c succeeds. Only c and d run.
    const fixed = recorder();
    const work = {
      ...fixed.tools[0],
      run: (input: { fail?: boolean }, ctx: Parameters<(typeof fixed.tools)[0]['run']>[1]) =>
        fixed.tools[0].run({ ...input, fail: false }, ctx),
    };
    const resumed = await resumeRun(first.runId, { store, tools: [work], classifier: null });
    expect(fixed.calls.map((c) => c.taskId)).toEqual(['c', 'd']);
    expect(resumed.status).toBe('succeeded');
    expect(resumed.tasks.a).toMatchObject({ status: 'succeeded', label: 'good', attempts: 1 });
    expect(resumed.tasks.c).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(resumed.tasks.d.output).toBe('c');
    const record = await store.read(first.runId);
    expect(record.events.filter((e) => e.type === 'run.resumed')).toHaveLength(1);
    expect(record.events.map((e) => e.seq)).toEqual(record.events.map((_, i) => i + 1));
    // Resuming a succeeded run changes nothing.
    const again = await resumeRun(first.runId, { store, tools: [work], classifier: null });
    expect(again.status).toBe('succeeded');
    expect(fixed.calls).toHaveLength(2);
  });

  it('an approval task pauses the run in `waiting`; approve continues it, reject fails the task', async () => {
    const store = tmpStore();
    const rec = recorder();
    const flow = {
      name: 'gate',
      tasks: [
        { id: 'draft', tool: 'work' },
        { id: 'send', tool: 'work', approval: true, dependencies: ['draft'] },
        { id: 'other', tool: 'work', dependencies: ['draft'] },
        { id: 'after', tool: 'work', dependencies: ['send'] },
      ],
    };
    const paused = await runWorkflow(flow, { tools: rec.tools, store });
    expect(paused.status).toBe('waiting');
    expect(paused.tasks.send.status).toBe('waiting');
    expect(paused.tasks.after.status).toBe('pending');
    expect(paused.tasks.other.status).toBe('succeeded');
    await expect(approveTask(store, paused.runId, 'draft', { approved: true })).rejects.toThrow(
      /has no approval: it never waits for a decision \(waiting: send\)/,
    );
    await approveTask(store, paused.runId, 'send', { approved: true, by: 'ana' });
    const done = await resumeRun(paused.runId, { store, tools: rec.tools });
    expect(done.status).toBe('succeeded');
    expect(rec.calls.map((c) => c.taskId).sort()).toEqual(['after', 'draft', 'other', 'send']);

    const second = await runWorkflow(flow, { tools: rec.tools, store });
    await approveTask(store, second.runId, 'send', { approved: false });
    const rejected = await resumeRun(second.runId, { store, tools: rec.tools });
    expect(rejected.status).toBe('succeeded');
    expect(rejected.tasks.send).toMatchObject({ status: 'skipped', reason: 'rejected' });
    expect(rejected.tasks.after).toMatchObject({ status: 'skipped', reason: 'upstream_skipped' });
  });
});

describe('monitoring subscribers', () => {
  it('pino log lines carry runId on every line and taskId on task lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-log-'));
    const file = join(dir, 'run.log');
    const rec = recorder();
    const logger = eventLogger(createLogger({ file, level: 'debug' }));
    const result = await runWorkflow(
      {
        tasks: [
          { id: 'a', tool: 'work' },
          { id: 'b', tool: 'work', input: { fail: true }, dependencies: ['a'] },
        ],
      },
      { tools: rec.tools, onEvent: logger },
    );
    logger.drain();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(6);
    expect(lines.every((l) => l.runId === result.runId)).toBe(true);
    for (const l of lines) if (String(l.event).startsWith('task.')) expect(l.taskId).toMatch(/^[ab]$/);
    expect(lines.find((l) => l.event === 'task.failed')).toMatchObject({ level: 'error', taskId: 'b' });
  });

  it('OpenTelemetry: run → task → attempt → LLM call spans, the model call with gen_ai attributes', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = otelListener(provider.getTracer('braid-test'));
    await runWorkflow(
      {
        name: 'traced',
        tasks: [
          { id: 'idea', tool: 'llm_generate_idea', input: { topic: 'solar kites' } },
          { id: 'skip', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'idea', if_status: 'failed' } },
        ],
      },
      { onEvent: tracer },
    );
    tracer.drain();
    const spans = exporter.getFinishedSpans();
    const byName = (prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
    const [run] = byName('braid.run');
    const task = byName('braid.task idea')[0];
    const attempt = byName('braid.attempt')[0];
    const llm = byName('chat ')[0];
    expect(run.attributes['braid.run.status']).toBe('succeeded');
    expect(task.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    expect(attempt.parentSpanContext?.spanId).toBe(task.spanContext().spanId);
    expect(llm.parentSpanContext?.spanId).toBe(attempt.spanContext().spanId);
    expect(llm.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'offline',
      'gen_ai.request.model': 'offline',
    });
    expect(llm.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(byName('braid.task skip')[0].attributes['braid.task.skip_reason']).toBe('condition_false');
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
  });
});

describe('tracing from the CLI', () => {
  it('BRAID_OTEL=1 with an SDK preloaded (node --import) exports the run as one trace', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'braid-otel-')), 'spans.jsonl');
    const r = await braid(['run', 'examples/conditional.yaml', '--quiet', '--no-store'], {
      env: { BRAID_OTEL: '1', OTEL_TEST_OUT: out },
      nodeArgs: ['--import', './test/fixtures/otel-setup.mjs'],
    });
    expect(r.code).toBe(0);
    const spans = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const run = spans.find((s) => s.name === 'braid.run conditional');
    expect(run.attributes['braid.run.status']).toBe('succeeded');
    const task1 = spans.find((s) => s.name === 'braid.task task_1');
    expect(task1.parent).toBe(run.id);
    expect(task1.attributes['braid.task.label']).toMatch(/good|bad/);
    const chats = spans.filter((s) => s.name === 'chat offline');
    expect(chats.length).toBeGreaterThanOrEqual(2);
    expect(spans.find((s) => s.name === 'braid.task task_2b').attributes['braid.task.skip_reason']).toBe(
      'condition_false',
    );
  });
});
