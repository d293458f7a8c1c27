/** Validation errors: every problem at once, each with its exact field path and a hint. */
import { describe, expect, it } from 'vitest';
import {
  builtinTools,
  formatIssue,
  loadWorkflow,
  validateWorkflow,
  WorkflowValidationError,
  type Issue,
} from '../src/index.js';
import { braid } from './support/cli.js';

const toolNames = ['echo', 'sleep', 'draft_email', 'send_email'];

function issues(value: unknown): Issue[] {
  const r = validateWorkflow(value, { toolNames });
  if (r.success) throw new Error('expected validation to fail');
  return r.issues;
}

const lines = (value: unknown) => issues(value).map((i) => formatIssue(i, 'flow.yaml'));

describe('validateWorkflow', () => {
  it('accepts the bare seed array shape and the object shape alike', () => {
    const tasks = [
      { id: 'task_1', tool: 'echo', input: { value: 'good' }, dependencies: [], condition: null },
      { id: 'task_2', tool: 'echo', input: { value: 1 }, condition: { depends_on: 'task_1', if_result: 'good' } },
    ];
    const bare = validateWorkflow(tasks, { toolNames });
    const obj = validateWorkflow({ name: 'x', tasks }, { toolNames });
    expect(bare.success && obj.success).toBe(true);
    if (bare.success && obj.success) expect(bare.workflow.tasks).toEqual(obj.workflow.tasks);
  });

  it('names an unknown task with a did-you-mean hint, as in the spec', () => {
    const out = lines([
      { id: 'task_1', tool: 'echo' },
      { id: 'task_2', tool: 'echo' },
      { id: 'task_3', tool: 'echo', condition: { depends_on: 'task_9', if_result: 'good' } },
    ]);
    expect(out).toEqual(['flow.yaml: tasks[2].condition.depends_on: unknown task "task_9" (did you mean "task_1"?)']);
  });

  it('reports every problem at once: unknown field, unknown tool, duplicate id, bad values', () => {
    const out = issues([
      { id: 'a', tool: 'echo', retrys: 2 },
      { id: 'a', tool: 'draft_emial' },
      { id: 'c', tool: 'echo', retries: -1, timeout_ms: 'soon', trigger_rule: 'any' },
      { tool: 'echo' },
    ]);
    const byPath = Object.fromEntries(out.map((i) => [i.path, i]));
    expect(byPath['tasks[0].retrys']).toMatchObject({ code: 'unknown_field', hint: 'did you mean "retries"?' });
    expect(byPath['tasks[1].id']).toMatchObject({ code: 'duplicate_id' });
    expect(byPath['tasks[1].tool']).toMatchObject({ code: 'unknown_tool', hint: 'did you mean "draft_email"?' });
    expect(byPath['tasks[2].retries'].message).toContain('`-1` (number)');
    expect(byPath['tasks[2].timeout_ms'].message).toContain('`"soon"` (string)');
    expect(byPath['tasks[2].trigger_rule'].code).toBe('invalid_value');
    expect(byPath['tasks[3].id']).toMatchObject({ code: 'missing_field' });
  });

  it('unknown fields inside a condition and at the top level get hints too', () => {
    const out = issues({
      name: 'x',
      taks: [],
      tasks: [
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo', condition: { depends_on: 'a', if_results: 'good' } },
      ],
    });
    expect(out.find((i) => i.path === 'taks')?.hint).toBe('did you mean "tasks"?');
    expect(out.find((i) => i.path === 'tasks[1].condition.if_results')?.hint).toBe('did you mean "if_result"?');
  });

  it('names a dependency cycle', () => {
    const out = issues([
      { id: 'a', tool: 'echo', dependencies: ['c'] },
      { id: 'b', tool: 'echo', dependencies: ['a'] },
      { id: 'c', tool: 'echo', dependencies: ['b'] },
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ code: 'cycle' });
    const cycle = out[0].message.replace('dependency cycle: ', '').split(' → ');
    expect(cycle[0]).toBe(cycle[3]);
    expect(new Set(cycle)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('routing loops are allowed; a self dependency is not', () => {
    expect(validateWorkflow([{ id: 'a', tool: 'echo', next_task_id_on_failure: 'a' }], { toolNames }).success).toBe(
      true,
    );
    expect(issues([{ id: 'a', tool: 'echo', dependencies: ['a'] }])[0].code).toBe('cycle');
  });

  it('rejects an expression that does not parse', () => {
    const out = issues([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo', condition: { depends_on: 'a', when: 'output.score >' } },
    ]);
    expect(out[0]).toMatchObject({ code: 'invalid_expression', path: 'tasks[1].condition.when' });
  });

  it('rejects templates that read unknown tasks, non-upstream tasks, or unknown roots', () => {
    const out = issues([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo', input: { value: '{{ tasks.a.output }}' } },
      {
        id: 'c',
        tool: 'echo',
        dependencies: ['a'],
        input: { value: 'x {{ tasks.zz.output }}', other: '{{ secrets.key }}' },
      },
    ]);
    expect(out.map((i) => [i.path, i.code])).toEqual([
      ['tasks[1].input.value', 'non_upstream_reference'],
      ['tasks[2].input.value', 'unknown_task'],
      ['tasks[2].input.other', 'invalid_template'],
    ]);
    expect(out[0].hint).toBe('add "a" to dependencies');
  });

  it('a template may read a transitive upstream and a routing source', () => {
    const r = validateWorkflow(
      [
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo', dependencies: ['a'] },
        { id: 'c', tool: 'echo', dependencies: ['b'], input: { value: '{{ tasks.a.output }}' } },
        {
          id: 'fix',
          tool: 'echo',
          next_task_id_on_success: 'b',
          dependencies: ['a'],
          input: { value: '{{ tasks.b.output }}' },
        },
      ],
      { toolNames },
    );
    expect(r.success).toBe(false); // fix reads b, which is neither upstream nor a routing source of fix
    const ok = validateWorkflow(
      [
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo', dependencies: ['a'], input: { value: '{{ tasks.fix.output }}' } },
        { id: 'c', tool: 'echo', dependencies: ['b'], input: { value: '{{ tasks.a.output }}' } },
        { id: 'fix', tool: 'echo', dependencies: ['b'], next_task_id_on_success: 'b' },
      ],
      { toolNames },
    );
    expect(ok.success).toBe(true);
  });

  it('if_result tests exactly one task and only one test is allowed', () => {
    const out = issues([
      { id: 'a', tool: 'echo' },
      { id: 'b', tool: 'echo' },
      { id: 'c', tool: 'echo', condition: { depends_on: ['a', 'b'], if_result: 'good', if_status: 'failed' } },
    ]);
    expect(out.map((i) => i.path)).toEqual([
      'tasks[2].condition',
      'tasks[2].condition.depends_on',
      'tasks[2].condition.depends_on',
    ]);
  });

  it('loadWorkflow throws one error listing all issues with the file name', async () => {
    const err = await loadWorkflow('test/fixtures/broken.yaml', { toolNames: builtinTools().map((t) => t.name) }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(WorkflowValidationError);
    expect(err.message.split('\n')).toEqual([
      'test/fixtures/broken.yaml: tasks[0].retrys: unknown field "retrys" (did you mean "retries"?)',
      'test/fixtures/broken.yaml: tasks[1].tool: unknown tool "ecco" (did you mean "echo"?)',
      'test/fixtures/broken.yaml: tasks[2].condition.depends_on: unknown task "task_9" (did you mean "task_1"?)',
    ]);
  });

  it('reports YAML syntax errors with the line', async () => {
    const err = await loadWorkflow('test/fixtures/bad-syntax.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowValidationError);
    expect(err.issues[0].path).toMatch(/^line \d+$/);
  });
});

describe('static analysis (braid validate warnings)', () => {
  it('finds exclusive all_success joins, unbounded routing loops and unknown output fields; --strict fails', async () => {
    const ok = await braid(['validate', 'test/fixtures/warnings.yaml']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: .*; 3 warnings\n$/);
    const lines = ok.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /tasks\[3\]\.trigger_rule: all_success over "yes" and "no", which never both run, so "join" can never run/,
      ),
      expect.stringMatching(/tasks\[2\]\.next_task_id_on_success: routing loop idea → no → idea has no max_visits/),
      expect.stringMatching(
        /tasks\[1\]\.input\.idea: "\{\{ tasks\.idea\.output\.ideaa \}\}": llm_generate_idea's output has no field "ideaa" \(did you mean "idea"\?\)/,
      ),
    ]);
    const strict = await braid(['validate', 'test/fixtures/warnings.yaml', '--strict', '--json']);
    expect(strict.code).toBe(2);
    const json = JSON.parse(strict.stdout);
    expect(json.ok).toBe(false);
    expect(json.warnings.map((w: { code: string }) => w.code)).toEqual([
      'exclusive_join',
      'unbounded_loop',
      'unknown_output_field',
    ]);
    for (const example of [
      'examples/conditional.yaml',
      'examples/parallel.yaml',
      'examples/retry-loop.yaml',
      'examples/routing.yaml',
    ]) {
      expect((await braid(['validate', example, '--strict'])).code).toBe(0);
    }
  });
});

describe('validated workflows', () => {
  it('are not validated twice while their tools are there; a missing tool is still reported', async () => {
    const { workflow } = await loadWorkflow(
      { name: 'w', tasks: [{ id: 'a', tool: 'echo', input: { value: 1 } }] },
      { toolNames: ['echo'] },
    );
    expect((await loadWorkflow(workflow, { toolNames: ['echo', 'sleep'] })).workflow).toBe(workflow);
    await expect(loadWorkflow(workflow, { toolNames: ['sleep'] })).rejects.toThrow(
      /tasks\[0\]\.tool: unknown tool "echo"/,
    );
    // a plain copy is validated like any input
    expect((await loadWorkflow({ ...workflow }, { toolNames: ['echo'] })).workflow).not.toBe(workflow);
  });
});
