/** compilePlan: a validated workflow becomes the scheduler's plan (defaults applied, edges as indexes). */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { validateWorkflow } from '../spec/validate.js';
import { defineTool } from '../toolkit/define-tool.js';
import { ToolRegistry } from '../toolkit/registry.js';
import { compilePlan, DEFAULT_MAX_VISITS, planFor, type PlanTask } from './plan.js';

const echo = defineTool({ name: 'echo', input: z.object({ value: z.unknown().optional() }), run: (i) => i });
const other = defineTool({ name: 'other', input: z.object({}), run: () => 1 });
const registry = new ToolRegistry([echo, other]);

function plan(value: unknown) {
  const r = validateWorkflow(value, { toolNames: registry.names() });
  if (!r.success) throw new Error(JSON.stringify(r.issues));
  const p = compilePlan(r.workflow, registry);
  return { ...p, task: (id: string): PlanTask => p.tasks[p.indexOf.get(id)!] };
}

describe('compilePlan', () => {
  it('a task without settings gets the defaults', () => {
    const t = plan([{ id: 'a', tool: 'echo' }]).task('a');
    expect(t).toMatchObject({
      index: 0,
      id: 'a',
      tool: echo,
      upstreams: [],
      ruleUpstreams: [],
      downstreams: [],
      routes: [],
      routingOnly: false,
      trigger: 'none_failed_min_one_success',
      condition: { kind: 'none' },
      retries: 0,
      timeoutMs: undefined,
      maxVisits: DEFAULT_MAX_VISITS,
      continueOnError: false,
      approval: false,
      labelCandidates: [],
      failureHandled: false,
      policy: [],
      forEach: undefined,
      itemConcurrency: Infinity,
    });
    expect(DEFAULT_MAX_VISITS).toBe(3);
    expect([...t.expectedLabels]).toEqual([]);
  });

  it('workflow defaults apply where a task says nothing; a task setting wins', () => {
    const p = plan({
      defaults: { trigger_rule: 'all_done', retries: 2, timeout_ms: 500, max_visits: 7, on_failure: ['skip'] },
      tasks: [
        { id: 'a', tool: 'echo' },
        {
          id: 'b',
          tool: 'echo',
          trigger_rule: 'all_success',
          retries: 1,
          timeout_ms: 50,
          max_visits: 2,
          on_failure: [{ retry: 4 }],
          continue_on_error: true,
          approval: true,
          concurrency: 3,
        },
      ],
    });
    expect(p.task('a')).toMatchObject({
      trigger: 'all_done',
      retries: 2,
      timeoutMs: 500,
      maxVisits: 7,
      policy: [{ kind: 'skip' }],
    });
    expect(p.task('b')).toMatchObject({
      trigger: 'all_success',
      retries: 1,
      timeoutMs: 50,
      maxVisits: 2,
      policy: [{ kind: 'retry', times: 4 }],
      continueOnError: true,
      approval: { edit: false, comment: false },
      failureHandled: true,
      itemConcurrency: 3,
    });
  });

  it('edges become indexes both ways; an if_status target is not counted by the trigger rule', () => {
    const p = plan([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo' },
      { id: 'c', tool: 'echo', dependencies: ['a', 'b'], condition: { depends_on: 'b', if_status: 'succeeded' } },
    ]);
    expect(p.task('c')).toMatchObject({
      upstreams: [0, 1],
      ruleUpstreams: [0],
      condition: { kind: 'status', dep: 1, status: 'succeeded' },
    });
    expect(p.task('a').downstreams).toEqual([2]);
    expect(p.task('b').downstreams).toEqual([2]);
    // if_status succeeded does not handle b's failure
    expect(p.task('b').failureHandled).toBe(false);
  });

  it('a failure is handled by continue_on_error, a failure route, an if_status failed/finished, or a rule that runs on failure', () => {
    const p = plan([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo', next_task_id_on_failure: 'fix' },
      { id: 'c', tool: 'echo' },
      { id: 'd', tool: 'echo' },
      { id: 'e', tool: 'echo' },
      { id: 'f', tool: 'echo' },
      { id: 'fix', tool: 'echo', dependencies: ['c'], condition: { depends_on: 'c', if_status: 'failed' } },
      { id: 'g', tool: 'echo', dependencies: ['d'], condition: { depends_on: 'd', if_status: 'finished' } },
      { id: 'h', tool: 'echo', dependencies: ['e'], trigger_rule: 'one_failed' },
      { id: 'i', tool: 'echo', dependencies: ['f'], trigger_rule: 'all_success' },
      { id: 'j', tool: 'echo', continue_on_error: true },
    ]);
    const handled = (id: string) => p.task(id).failureHandled;
    expect(['a', 'b', 'c', 'd', 'e', 'f', 'j'].map(handled)).toEqual([false, true, true, true, true, false, true]);
    for (const rule of ['all_done', 'one_success'])
      expect(
        plan([
          { id: 'x', tool: 'echo' },
          { id: 'y', tool: 'echo', dependencies: ['x'], trigger_rule: rule },
        ]).task('x').failureHandled,
      ).toBe(true);
    expect(
      plan({
        defaults: { trigger_rule: 'all_done' },
        tasks: [
          { id: 'x', tool: 'echo' },
          { id: 'y', tool: 'echo', dependencies: ['x'] },
        ],
      }).task('x').failureHandled,
    ).toBe(true);
  });

  it('routes and routing-only tasks', () => {
    const p = plan([
      { id: 'a', tool: 'echo', next_task_id_on_success: 'b', next_task_id_on_failure: 'c' },
      { id: 'b', tool: 'echo' },
      { id: 'c', tool: 'echo' },
    ]);
    expect(p.task('a').routes).toEqual([
      { to: 1, on: 'success' },
      { to: 2, on: 'failure' },
    ]);
    expect([p.task('a').routingOnly, p.task('b').routingOnly, p.task('c').routingOnly]).toEqual([false, true, true]);
  });

  it('labels: what if_result expects of a task, plus classify.labels, are its candidates', () => {
    const p = plan([
      { id: 'judge', tool: 'echo', classify: { labels: ['meh'] } },
      { id: 'up', tool: 'echo' },
      { id: 'g', tool: 'echo', dependencies: ['judge'], condition: { depends_on: 'judge', if_result: 'good' } },
      {
        id: 'b',
        tool: 'echo',
        dependencies: ['judge'],
        condition: { depends_on: 'judge', if_result: ['bad', 'good'] },
      },
      { id: 'c', tool: 'echo', dependencies: ['up'], condition: { depends_on: 'up', if_result: 'ok' } },
    ]);
    expect([...p.task('judge').expectedLabels]).toEqual(['good', 'bad']);
    expect(p.task('judge').labelCandidates).toEqual(['good', 'bad', 'meh']);
    expect(p.task('up').labelCandidates).toEqual(['ok']);
    expect(p.task('g').labelCandidates).toEqual([]);
    expect(p.task('g').condition).toEqual({ kind: 'result', dep: 0, labels: new Set(['good']) });
    const classifyOnly = plan([{ id: 'a', tool: 'echo', classify: { labels: ['x', 'y'] } }]).task('a');
    expect(classifyOnly.labelCandidates).toEqual(['x', 'y']);
  });

  it('conditions: an expression string, a when with one dependency (its output is `output`) or several', () => {
    const p = plan([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo' },
      { id: 's', tool: 'echo', dependencies: ['a'], condition: 'tasks.a.output.value = 1' },
      { id: 'one', tool: 'echo', dependencies: ['a'], condition: { depends_on: 'a', when: 'output.value = 1' } },
      {
        id: 'two',
        tool: 'echo',
        dependencies: ['a', 'b'],
        condition: { depends_on: ['a', 'b'], when: 'tasks.a.output = 1' },
      },
      { id: 'n', tool: 'echo', condition: null },
    ]);
    expect(p.task('s').condition).toMatchObject({ kind: 'when' });
    expect('dep' in p.task('s').condition).toBe(false);
    expect(p.task('one').condition).toMatchObject({ kind: 'when', dep: 0 });
    const two = p.task('two').condition;
    expect(two.kind === 'when' && two.dep).toBeUndefined();
    expect(p.task('n').condition).toEqual({ kind: 'none' });
  });

  it('on_failure steps compile: retry, skip, adjust (patch, prompt, llm), fallback to a tool or to a task', async () => {
    const p = plan([
      {
        id: 'a',
        tool: 'echo',
        input: { value: 'mine' },
        on_failure: [
          { retry: 2 },
          { adjust: { input: { value: '{{ error.message }}' }, prompt: 'fix it', llm: true } },
          { adjust: { llm: true } },
          { fallback: 'other' },
          { fallback: 'b' },
          { fallback: 'b', input: { value: 'given' } },
          'skip',
        ],
      },
      { id: 'b', tool: 'echo', input: { value: '{{ input.q }}' } },
    ]);
    const [retry, adjust, llmOnly, tool, task, taskWithInput, skip] = p.task('a').policy;
    expect(retry).toEqual({ kind: 'retry', times: 2 });
    expect(adjust).toMatchObject({ kind: 'adjust', llm: true, prompt: 'fix it' });
    expect(adjust.kind === 'adjust' && adjust.patch?.({ input: {}, tasks: {}, error: { message: 'boom' } })).toEqual({
      value: 'boom',
    });
    expect(llmOnly).toEqual({ kind: 'adjust', llm: true });
    expect(tool).toEqual({ kind: 'fallback', tool: other, name: 'other' });
    expect(task).toMatchObject({ kind: 'fallback', tool: echo, name: 'b' });
    expect(task.kind === 'fallback' && task.input?.({ input: { q: 'from b' }, tasks: {} })).toEqual({
      value: 'from b',
    });
    expect(taskWithInput.kind === 'fallback' && taskWithInput.input?.({ input: {}, tasks: {} })).toEqual({
      value: 'given',
    });
    expect(skip).toEqual({ kind: 'skip' });
    const noLlm = plan([{ id: 'a', tool: 'echo', on_failure: [{ adjust: { input: { value: 1 } } }] }]).task('a');
    expect(noLlm.policy[0]).toMatchObject({ kind: 'adjust', llm: false });
  });

  it('a fallback that names neither a registered tool nor a task is refused, not replaced by some task', () => {
    const r = validateWorkflow([
      { id: 'a', tool: 'echo', on_failure: [{ fallback: 'nowhere' }] },
      { id: 'b', tool: 'other' },
    ]);
    if (!r.success) throw new Error('expected a valid workflow (no tool names given)');
    expect(() => compilePlan(r.workflow, registry)).toThrow(/nowhere/);
  });

  it('inputs, for_each and the output are compiled templates', () => {
    const p = plan({
      tasks: [
        { id: 'a', tool: 'echo', input: { value: '{{ input.q }}' } },
        { id: 'b', tool: 'echo', dependencies: ['a'], for_each: '{{ tasks.a.output.list }}' },
        { id: 'c', tool: 'echo' },
      ],
      output: { answer: '{{ tasks.a.output }}' },
    });
    const ctx = { input: { q: 'hello' }, tasks: { a: { output: { list: [1, 2] } } } };
    expect(p.task('a').render(ctx)).toEqual({ value: 'hello' });
    expect(p.task('b').forEach?.(ctx)).toEqual([1, 2]);
    expect(p.task('c').render(ctx)).toEqual({});
    expect(p.output?.(ctx)).toEqual({ answer: { list: [1, 2] } });
    expect('output' in plan([{ id: 'a', tool: 'echo' }])).toBe(false);
  });
});

describe('planFor: a validated workflow keeps its compiled plan while its tools stay the same', () => {
  const validated = (value: unknown, names = registry.names()) => {
    const r = validateWorkflow(value, { toolNames: names });
    if (!r.success) throw new Error(JSON.stringify(r.issues));
    return r.workflow;
  };
  // `b` is a task and not a tool: the fallback's `has('b')` lookup is recorded as a miss.
  const spec = [
    { id: 'a', tool: 'echo', on_failure: [{ fallback: 'b' }] },
    { id: 'b', tool: 'other', dependencies: ['a'], trigger_rule: 'all_done' },
  ];

  it('the same validated workflow and tools give the same plan object', () => {
    const w = validated(spec);
    expect(planFor(w, registry)).toBe(planFor(w, registry));
  });

  it('a workflow that was not validated is compiled every time', () => {
    const w = { ...validated(spec) };
    expect(planFor(w, registry)).not.toBe(planFor(w, registry));
  });

  it('another tool under a name it used compiles afresh', () => {
    const w = validated(spec);
    const first = planFor(w, registry);
    const echo2 = defineTool({ name: 'echo', input: z.object({}), run: () => 2 });
    const replaced = planFor(w, new ToolRegistry([echo2, other]));
    expect(replaced).not.toBe(first);
    expect(replaced.tasks[0].tool).toBe(echo2);
  });

  it('a tool under a name it missed (only asked with `has`) compiles afresh', () => {
    const w = validated(spec);
    const first = planFor(w, registry);
    const b = defineTool({ name: 'b', input: z.object({}), run: () => 3 });
    const withB = planFor(w, new ToolRegistry([echo, other, b]));
    expect(withB).not.toBe(first);
    // the fallback now names the tool `b`, not the task
    expect(withB.tasks[0].policy[0]).toMatchObject({ kind: 'fallback', name: 'b', tool: b });
  });
});
