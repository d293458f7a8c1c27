/**
 * Inputs without templates (workflow-spec.md §5a): data flows from run inputs and upstream outputs into the
 * fields a task's `input` leaves open; the explicit input always wins; a skipped upstream gives nothing.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  analyzeWorkflow,
  builtinTools,
  defineTool,
  runWorkflow,
  ToolRegistry,
  validateWorkflow,
  type RunEvent,
} from '../src/index.js';
import { effectiveInput, implicitInputOf } from '../src/engine/effective-input.js';
import { braid } from './support/cli.js';

const outbox = mkdtempSync(join(tmpdir(), 'braid-outbox-'));
afterAll(() => rmSync(outbox, { recursive: true, force: true }));

/** A tool that returns the input it got, so a test sees the effective input. */
const take = defineTool({
  name: 'take',
  input: z.object({ a: z.unknown().optional(), b: z.unknown().optional(), c: z.unknown().optional() }),
  output: z.object({ a: z.unknown().optional(), b: z.unknown().optional(), c: z.unknown().optional() }),
  run: (input) => input,
});
/** Emits whatever object it is given as `value`. */
const emit = defineTool({
  name: 'emit',
  input: z.object({ value: z.record(z.string(), z.unknown()) }),
  run: ({ value }) => value,
});

describe("the design notes' workflows run as written", () => {
  it('seed-conditional.json: good branch drafts and sends; the email carries the idea', async () => {
    const events: RunEvent[] = [];
    process.env.BRAID_OUTBOX = outbox;
    const r = await runWorkflow('examples/seed-conditional.json', {
      input: { topic: 'solar kites', to: 'team@example.com' },
      onEvent: (e) => events.push(e),
    });
    expect(r.status).toBe('succeeded');
    expect(r.tasks.task_1.label).toBe('good');
    expect(r.tasks.task_2a.status).toBe('succeeded');
    expect(r.tasks.task_2b).toMatchObject({ status: 'skipped', reason: 'condition_false' });
    expect(r.tasks.task_2a.inputSources).toMatchObject({ idea: 'tasks.task_1.output.idea' });
    expect(r.tasks.task_3.inputSources).toMatchObject({
      to: 'input.to',
      subject: 'tasks.task_2a.output.subject',
      body: 'tasks.task_2a.output.body',
    });
    const eml = readFileSync((r.tasks.task_3.output as { path: string }).path, 'utf8');
    const idea = (r.tasks.task_1.output as { idea: string }).idea;
    expect(eml.replace(/=\n/g, '')).toContain(idea.slice(0, 20));
    const started = events.find((e) => e.type === 'task.started' && e.taskId === 'task_3');
    expect(started).toMatchObject({ sources: { to: 'input.to' } });
  });

  it("seed-conditional.json: bad branch improves the idea with the judge's reason, and the email carries the improved idea", async () => {
    process.env.BRAID_OUTBOX = outbox;
    const r = await runWorkflow('examples/seed-conditional.json', {
      input: { topic: 'bike sharing', to: 'team@example.com' },
    });
    expect(r.status).toBe('succeeded');
    expect(r.tasks.task_1.label).toBe('bad');
    expect(r.tasks.task_2a).toMatchObject({ status: 'skipped', reason: 'condition_false' });
    expect(r.tasks.task_2b.inputSources).toMatchObject({
      idea: 'tasks.task_1.output.idea',
      feedback: 'tasks.task_1.labelReason',
      topic: 'input.topic',
    });
    expect(r.tasks.task_3.inputSources).toMatchObject({ body: 'tasks.task_2b.output.idea' });
    const improved = (r.tasks.task_2b.output as { idea: string }).idea;
    const eml = readFileSync((r.tasks.task_3.output as { path: string }).path, 'utf8');
    expect(eml.replace(/=\n/g, '')).toContain(improved.slice(0, 20));
  });

  it('seed-parallel.json: search and calculate take run inputs, the summary takes every upstream output keyed by task id', async () => {
    const r = await runWorkflow('examples/seed-parallel.json', {
      input: { query: 'solar power', expression: '12 * 7' },
    });
    expect(r.status).toBe('succeeded');
    expect(r.tasks.task_2.output).toMatchObject({ result: 84 });
    expect(r.tasks.task_3.inputSources).toMatchObject({ results: 'tasks.task_1.output + tasks.task_2.output' });
    expect(r.tasks.task_3.output).toMatchObject({ sources: 2 });
  });

  it('without the run inputs, validate and run refuse before anything starts, naming each field and how to give it', async () => {
    const v = await braid(['validate', 'examples/seed-conditional.json']);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(
      'tasks[0].input.topic: task "task_1" (llm_generate_idea) needs "topic" and nothing gives it (give it with --input topic=..., with input: { topic: ... } on the task, or as a default in inputs.properties.topic.default)',
    );
    expect(v.stderr).toContain('tasks[3].input.to: task "task_3" (send_email) needs "to"');
    expect(
      (await braid(['validate', 'examples/seed-conditional.json', '--input', 'topic=kites', '--input', 'to=a@b.co']))
        .code,
    ).toBe(0);
    const run = await braid(['run', 'examples/seed-parallel.json', '--no-store']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/needs "query"[\s\S]*needs "expression"/);
    expect(run.stderr).not.toMatch(/started/);
  });
});

describe('effective input rules', () => {
  it('run inputs fill fields by name; upstream outputs beat run inputs; the explicit input beats both', async () => {
    const r = await runWorkflow(
      [
        { id: 'up', tool: 'emit', input: { value: { b: 'from up', c: 'from up' } } },
        { id: 't', tool: 'take', dependencies: ['up'], input: { c: 'explicit' } },
      ],
      { tools: [take, emit], input: { a: 'from run', b: 'from run' } },
    );
    expect(r.tasks.t.output).toEqual({ a: 'from run', b: 'from up', c: 'explicit' });
    expect(r.tasks.t.inputSources).toEqual({ a: 'input.a', b: 'tasks.up.output.b', c: 'explicit' });
  });

  it('upstreams merge in dependency order (the later wins), and validate warns about the ambiguity', async () => {
    const wf = {
      name: 'two',
      tasks: [
        { id: 'x', tool: 'take', input: { a: 1 } },
        { id: 'y', tool: 'take', input: { a: 2 } },
        { id: 't', tool: 'take', dependencies: ['x', 'y'] },
      ],
    };
    const r = await runWorkflow(wf, { tools: [take] });
    expect(r.tasks.t.output).toMatchObject({ a: 2 });
    const v = validateWorkflow(wf);
    const warnings = analyzeWorkflow(
      v.success ? v.workflow : (undefined as never),
      new ToolRegistry([...builtinTools(), take]),
    );
    expect(warnings.find((w) => w.code === 'ambiguous_input')).toMatchObject({
      path: 'tasks[2].input.a',
      message: '"a" comes from both "x" and "y"; the later upstream ("y") wins',
    });
  });

  it('a whole-input template decides the input alone', () => {
    expect(implicitInputOf({ id: 't', tool: 'take', input: '{{ tasks.x.output }}' }, take)).toBeUndefined();
    expect(implicitInputOf({ id: 't', tool: 'take', input: { a: 1, b: 2, c: 3 } }, take)).toBeUndefined();
  });

  it('property: the explicit input always wins, and an upstream that did not succeed gives nothing', async () => {
    const fields = ['a', 'b', 'c'] as const;
    const value = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }));
    const part = fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(part, part, part, fc.boolean(), async (explicit, runInput, upOutput, upSkipped) => {
        const r = await runWorkflow(
          [
            { id: 'up', tool: 'emit', input: { value: upOutput }, ...(upSkipped ? { condition: 'false' } : {}) },
            { id: 't', tool: 'take', dependencies: ['up'], trigger_rule: 'all_done', input: explicit },
          ],
          { tools: [take, emit], input: runInput },
        );
        const got = r.tasks.t.output as Record<string, unknown>;
        for (const f of fields) {
          const want =
            f in explicit
              ? explicit[f]
              : !upSkipped && f in upOutput
                ? upOutput[f]
                : f in runInput
                  ? runInput[f]
                  : undefined;
          expect(got[f]).toEqual(want);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('effectiveInput reports defaults and leaves an input without implicit data untouched', () => {
    const tool = defineTool({
      name: 'd',
      input: z.object({ topic: z.string(), tone: z.string().default('warm') }),
      run: (i) => i,
    });
    const implicit = implicitInputOf({ id: 't', tool: 'd' }, tool)!;
    expect(effectiveInput(implicit, {}, { topic: 'kites' }, [])).toEqual({
      input: { topic: 'kites' },
      sources: { topic: 'input.topic', tone: 'default' },
    });
    const untouched = {};
    expect(effectiveInput(implicit, untouched, {}, []).input).toBe(untouched);
  });

  it('templates and run inputs never read inherited members', async () => {
    const r = await runWorkflow([{ id: 't', tool: 'take' }], {
      tools: [take],
      input: Object.create({ a: 'inherited' }) as Record<string, unknown>,
    });
    expect(r.tasks.t.output).toEqual({});
  });

  it('braid explain shows where every input value came from', async () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-home-'));
    try {
      const env = { BRAID_HOME: home, BRAID_OUTBOX: outbox };
      const run = await braid(
        [
          'run',
          'examples/seed-conditional.json',
          '--input',
          'topic=solar kites',
          '--input',
          'to=team@example.com',
          '--json',
        ],
        { env },
      );
      const { runId } = JSON.parse(run.stdout);
      const explained = await braid(['explain', runId, 'task_3'], { env });
      expect(explained.stdout).toContain(
        'Its input came from: to ← input.to, subject ← tasks.task_2a.output.subject, body ← tasks.task_2a.output.body, from ← default.',
      );
      expect(readdirSync(join(home, 'runs')).filter((f) => f.endsWith('.jsonl'))).toHaveLength(1);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
