/**
 * validateWorkflow's issues, each stated whole (code, path, message, hint): what `braid validate` prints is
 * the user interface of validation, so a changed word, a lost hint or a wrong path is a regression. Fast
 * unit tests (no CLI): the mutation pass (issue 21) reads them.
 */
import { describe, expect, it } from 'vitest';
import type { Issue } from '../errors.js';
import { isValidated, validateWorkflow } from './validate.js';

const toolNames = ['echo', 'sleep', 'draft_email', 'send_email'];

function issues(value: unknown, opts: { toolNames?: string[] } = { toolNames }): Issue[] {
  const r = validateWorkflow(value, opts);
  if (r.success) throw new Error('expected validation to fail');
  return r.issues;
}

describe('validateWorkflow: the shape', () => {
  it('a value that is neither an array nor an object is one invalid_type issue at the root', () => {
    const expected = [
      {
        code: 'invalid_type',
        path: '',
        message: 'a workflow is an array of tasks or an object with "tasks"',
        hint: 'see workflow-spec.md §1',
      },
    ];
    expect(issues(42)).toEqual(expected);
    expect(issues(null)).toEqual(expected);
    expect(issues('tasks')).toEqual(expected);
  });

  it('an object without tasks, or with tasks that is not a list, says so and stops there', () => {
    expect(issues({ name: 'x' })).toEqual([
      { code: 'missing_field', path: 'tasks', message: 'missing required field "tasks"', hint: 'expected array' },
    ]);
    expect(issues({ tasks: 5 })).toEqual([
      { code: 'invalid_type', path: 'tasks', message: 'expected array, received number, got `5` (number)' },
    ]);
  });

  it('unknown keys get a did-you-mean from the keys known at their level (workflow, defaults, budget, classify, condition)', () => {
    const out = issues({
      name: 'x',
      tsks: [],
      tasks: [
        { id: 'a', tool: 'echo', classify: { labls: ['x'] } },
        { id: 'b', tool: 'echo', condition: { depends_on: 'a', if_reslt: 'x' } },
      ],
      defaults: { retrie: 1 },
      budget: { max_token: 3 },
    });
    const hints = Object.fromEntries(out.filter((i) => i.code === 'unknown_field').map((i) => [i.path, i.hint]));
    expect(hints).toEqual({
      tsks: 'did you mean "tasks"?',
      'defaults.retrie': 'did you mean "retries"?',
      'budget.max_token': 'did you mean "max_tokens"?',
      'tasks[0].classify.labls': 'did you mean "labels"?',
      'tasks[1].condition.if_reslt': 'did you mean "if_result"?',
    });
  });

  it('a task that fails its shape still has its references checked (salvaged), and the workflow name defaults', () => {
    expect(
      issues([
        { id: 'a', tool: 'echo', retries: 'x', dependencies: ['zz'], next_task_id_on_success: 'yy' },
        7,
        { id: 5 },
      ]),
    ).toEqual([
      {
        code: 'invalid_type',
        path: 'tasks[0].retries',
        message: 'expected number, received string, got `"x"` (string)',
      },
      { code: 'invalid_type', path: 'tasks[1]', message: 'expected object, received number, got `7` (number)' },
      { code: 'invalid_type', path: 'tasks[2].id', message: 'expected string, received number, got `5` (number)' },
      {
        code: 'missing_field',
        path: 'tasks[2].tool',
        message: 'missing required field "tool"',
        hint: 'expected string',
      },
      {
        code: 'unknown_task',
        path: 'tasks[0].dependencies[0]',
        message: 'unknown task "zz"',
        hint: 'did you mean "a"?',
      },
      {
        code: 'unknown_task',
        path: 'tasks[0].next_task_id_on_success',
        message: 'unknown task "yy"',
        hint: 'did you mean "a"?',
      },
    ]);
    const named = validateWorkflow([{ id: 'a', tool: 'echo' }], { toolNames, defaultName: 'from-file' });
    expect(named.success && named.workflow.name).toBe('from-file');
    const unnamed = validateWorkflow([{ id: 'a', tool: 'echo' }], { toolNames });
    expect(unnamed.success && unnamed.workflow.name).toBe('workflow');
  });

  it('an empty condition string is an empty expression (use null for none)', () => {
    expect(issues([{ id: 'a', tool: 'echo', condition: '' }])[0]).toEqual({
      code: 'invalid_value',
      path: 'tasks[0].condition',
      message: 'empty expression',
      hint: 'use null for no condition',
    });
  });
});

describe('validateWorkflow: references and cycles', () => {
  it('a duplicate id names where the id was first used; an unknown dependency gets a did-you-mean', () => {
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        { id: 'a', tool: 'echo' },
        { id: 'c', tool: 'echo', dependencies: ['a', 'q'] },
      ]),
    ).toEqual([
      {
        code: 'duplicate_id',
        path: 'tasks[1].id',
        message: 'duplicate task id "a"',
        hint: 'first used at tasks[0]; ids must be unique',
      },
      {
        code: 'unknown_task',
        path: 'tasks[2].dependencies[1]',
        message: 'unknown task "q"',
        hint: 'did you mean "a"?',
      },
    ]);
  });

  it('an unknown routing target is reported at its field; routing to itself is allowed', () => {
    expect(issues([{ id: 'a', tool: 'echo', next_task_id_on_success: 'zz', next_task_id_on_failure: 'a' }])).toEqual([
      {
        code: 'unknown_task',
        path: 'tasks[0].next_task_id_on_success',
        message: 'unknown task "zz"',
        hint: 'did you mean "a"?',
      },
    ]);
  });

  it('a task depending on itself, by dependencies or by its condition, is a cycle', () => {
    expect(issues([{ id: 'a', tool: 'echo', dependencies: ['a'] }])).toEqual([
      { code: 'cycle', path: 'tasks[0].dependencies', message: 'task "a" depends on itself' },
    ]);
    expect(issues([{ id: 'a', tool: 'echo', condition: { depends_on: 'a', if_status: 'failed' } }])).toEqual([
      { code: 'cycle', path: 'tasks[0].condition.depends_on', message: 'task "a" depends on itself' },
    ]);
  });

  it('a dependency cycle is reported once, as a path that returns to its start', () => {
    const hint = 'break it, or use next_task_id_on_* routing for loops';
    expect(
      issues([
        { id: 'a', tool: 'echo', dependencies: ['b'] },
        { id: 'b', tool: 'echo', dependencies: ['a'] },
      ]),
    ).toEqual([{ code: 'cycle', path: 'tasks[1].dependencies', message: 'dependency cycle: b → a → b', hint }]);
    expect(
      issues([
        { id: 'a', tool: 'echo', dependencies: ['c'] },
        { id: 'b', tool: 'echo', dependencies: ['a'] },
        { id: 'c', tool: 'echo', dependencies: ['b'] },
        { id: 'd', tool: 'echo', dependencies: ['c', 'a'] },
      ]),
    ).toEqual([{ code: 'cycle', path: 'tasks[1].dependencies', message: 'dependency cycle: b → c → a → b', hint }]);
  });

  it('if_status (like if_result) tests exactly one task; a `when` may test several, each of them known', () => {
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo' },
        { id: 'c', tool: 'echo', dependencies: ['a', 'b'], condition: { depends_on: ['a', 'b'], if_status: 'failed' } },
      ]),
    ).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[2].condition.depends_on',
        message: 'if_status tests exactly one task, got 2',
        hint: 'use a `when` expression to test several tasks',
      },
    ]);
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo' },
        {
          id: 'c',
          tool: 'echo',
          dependencies: ['a', 'b'],
          condition: { depends_on: ['a', 'zz'], when: 'tasks.a.output = 1' },
        },
      ]),
    ).toEqual([
      {
        code: 'unknown_task',
        path: 'tasks[2].condition.depends_on[1]',
        message: 'unknown task "zz"',
        hint: 'did you mean "a"?',
      },
    ]);
  });
});

describe('validateWorkflow: expressions and templates', () => {
  it('an expression that does not parse, or reads a task that is not upstream, is reported with a hint', () => {
    expect(issues([{ id: 'a', tool: 'echo', condition: 'tasks.(' }])).toEqual([
      {
        code: 'invalid_expression',
        path: 'tasks[0].condition',
        message: 'expression does not parse at character 7: Expected ")" before end of expression',
        hint: 'conditions are JSONata, e.g. tasks.t1.output.score > 0.5',
      },
    ]);
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo', condition: 'tasks.a.output = 1' },
      ]),
    ).toEqual([
      {
        code: 'non_upstream_reference',
        path: 'tasks[1].condition',
        message: 'expression reads task "a", which is not upstream of "b"',
        hint: 'add "a" to dependencies',
      },
    ]);
  });

  it('templates that are not paths, start with an unknown root, or name no task are invalid_template', () => {
    expect(
      issues([{ id: 'a', tool: 'echo', input: { v: '{{ tasks }}', w: '{{ foo.bar }}', x: '{{ a b }}' } }]),
    ).toEqual([
      {
        code: 'invalid_template',
        path: 'tasks[0].input.v',
        message: '"{{ tasks }}" names no task; write tasks.<id>.output',
      },
      {
        code: 'invalid_template',
        path: 'tasks[0].input.w',
        message: '"{{ foo.bar }}" starts with "foo"; templates start with input, tasks, item, index, run, error',
      },
      {
        code: 'invalid_template',
        path: 'tasks[0].input.x',
        message: '"{{ a b }}" is not a path like input.topic or tasks.<id>.output.field',
      },
    ]);
  });

  it('item and index exist only in for_each tasks, error only in on_failure adjust inputs', () => {
    const hint = 'add for_each: "{{ tasks.<id>.output.list }}"';
    expect(issues([{ id: 'a', tool: 'echo', input: { value: '{{ item }}', i: '{{ index }}' } }])).toEqual([
      {
        code: 'invalid_template',
        path: 'tasks[0].input.value',
        message: '"{{ item }}" reads item, which only for_each tasks have',
        hint,
      },
      {
        code: 'invalid_template',
        path: 'tasks[0].input.i',
        message: '"{{ index }}" reads index, which only for_each tasks have',
        hint,
      },
    ]);
    expect(issues([{ id: 'a', tool: 'echo', input: { value: '{{ error.message }}' } }])).toEqual([
      {
        code: 'invalid_template',
        path: 'tasks[0].input.value',
        message: '"{{ error.message }}": error is only set in on_failure adjust inputs',
      },
    ]);
    const ok = [
      { id: 'a', tool: 'echo' },
      {
        id: 'b',
        tool: 'echo',
        dependencies: ['a'],
        for_each: '{{ tasks.a.output.list }}',
        input: { value: '{{ item }}', i: '{{ index }}' },
        on_failure: [{ adjust: { input: { value: '{{ error.message }}' } } }],
      },
    ];
    expect(validateWorkflow(ok, { toolNames }).success).toBe(true);
  });

  it('for_each needs a template', () => {
    expect(issues([{ id: 'a', tool: 'echo', for_each: 'abc' }])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].for_each',
        message: 'for_each needs a template that gives a list',
        hint: 'e.g. for_each: "{{ tasks.search.output.results }}"',
      },
    ]);
  });

  it('the output may read any task, input and run, nothing else', () => {
    expect(
      issues({
        tasks: [{ id: 'a', tool: 'echo' }],
        output: {
          x: '{{ tasks.zz.output }}',
          y: '{{ item }}',
          z: '{{ 1 + }}',
          w: '{{ run.id }}',
          v: '{{ input.q }}',
          u: '{{ tasks.a.output }}',
        },
      }),
    ).toEqual([
      { code: 'unknown_task', path: 'output.x', message: 'unknown task "zz"', hint: 'did you mean "a"?' },
      {
        code: 'invalid_template',
        path: 'output.y',
        message: '"{{ item }}": the output reads tasks.<id>..., input... or run.id',
      },
      {
        code: 'invalid_template',
        path: 'output.z',
        message: '"{{ 1 + }}" is not a path like input.topic or tasks.<id>.output.field',
      },
    ]);
  });

  it('inputs must be a usable JSON Schema', () => {
    expect(issues({ tasks: [{ id: 'a', tool: 'echo' }], inputs: { type: 'nope' } })).toEqual([
      { code: 'invalid_value', path: 'inputs', message: 'not a usable JSON Schema: Unsupported type: nope' },
    ]);
  });

  it('a $ref that leads back to itself without properties or items between is named where it is', () => {
    const loop = (path: string) => ({
      code: 'invalid_value',
      path,
      message: 'this $ref leads back to itself without any properties or items in between, so no input can match it',
      hint: 'point $ref at a definition (e.g. "#/$defs/node") whose recursion goes through properties or items',
    });
    const tasks = [{ id: 'a', tool: 'echo' }];
    expect(issues({ tasks, inputs: { $ref: '#' } })).toEqual([loop('inputs.$ref')]);
    expect(issues({ tasks, inputs: { allOf: [{ $ref: '#' }] } })).toEqual([loop('inputs.allOf[0].$ref')]);
    expect(issues({ tasks, inputs: { type: 'object', properties: { a: { $ref: '#/properties/a' } } } })).toEqual([
      loop('inputs.properties.a.$ref'),
    ]);
    expect(
      issues({ tasks, inputs: { $defs: { x: { $ref: '#/$defs/y' }, y: { anyOf: [{ $ref: '#/$defs/x' }] } } } }),
    ).toHaveLength(1);
    // Recursion through properties or items is a tree: fine.
    const tree = {
      type: 'object',
      properties: { node: { $ref: '#/$defs/node' } },
      $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } },
    };
    expect(validateWorkflow({ tasks, inputs: tree }, { toolNames }).success).toBe(true);
    expect(
      validateWorkflow({ tasks, inputs: { type: 'object', properties: { self: { $ref: '#' } } } }, { toolNames })
        .success,
    ).toBe(true);
  });
});

describe('validateWorkflow: on_failure steps', () => {
  it('adjust needs a patch or llm: true', () => {
    expect(issues([{ id: 'a', tool: 'echo', on_failure: [{ adjust: {} }] }])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].on_failure[0].adjust',
        message: 'adjust needs `input` (a patch) or `llm: true`',
      },
    ]);
  });

  it('a fallback names a known tool or a task; its input may read only upstream tasks', () => {
    expect(issues([{ id: 'a', tool: 'echo', on_failure: [{ fallback: 'ecco' }] }])).toEqual([
      {
        code: 'unknown_tool',
        path: 'tasks[0].on_failure[0].fallback',
        message: 'unknown tool or task "ecco"',
        hint: 'did you mean "echo"?',
      },
    ]);
    expect(issues([{ id: 'a', tool: 'echo', on_failure: [{ fallback: 'qqqqqqqqqq' }] }])[0].hint).toBe(
      'name a registered tool (braid tools) or a task id',
    );
    const byTask = [
      { id: 'a', tool: 'echo', on_failure: [{ fallback: 'b' }] },
      { id: 'b', tool: 'echo' },
    ];
    expect(validateWorkflow(byTask, { toolNames }).success).toBe(true);
    // without tool names, any fallback name is accepted (the registry decides at run time)
    expect(validateWorkflow([{ id: 'a', tool: 'x', on_failure: ['skip', { fallback: 'y' }] }]).success).toBe(true);
    expect(
      issues([
        { id: 'a', tool: 'echo', on_failure: [{ fallback: 'echo', input: { value: '{{ tasks.b.output }}' } }] },
        { id: 'b', tool: 'echo' },
      ]),
    ).toEqual([
      {
        code: 'non_upstream_reference',
        path: 'tasks[0].on_failure[0].input.value',
        message: 'template "{{ tasks.b.output }}" reads task "b", which is not upstream of "a"',
        hint: 'add "b" to dependencies',
      },
    ]);
  });
});

describe('isValidated: a workflow validateWorkflow returned, runnable with these tools', () => {
  it('knows its own results only, and checks every tool and fallback against the names given', () => {
    const r = validateWorkflow(
      [
        { id: 'a', tool: 'echo', on_failure: [{ fallback: 'b' }] },
        { id: 'b', tool: 'sleep' },
      ],
      { toolNames },
    );
    if (!r.success) throw new Error('expected a valid workflow');
    expect(isValidated(r.workflow)).toBe(true);
    expect(isValidated(r.workflow, ['echo', 'sleep'])).toBe(true);
    expect(isValidated(r.workflow, ['echo'])).toBe(false);
    expect(isValidated({ ...r.workflow })).toBe(false);
    expect(isValidated(null)).toBe(false);
    expect(isValidated('workflow')).toBe(false);
    const d = validateWorkflow(
      { tasks: [{ id: 'a', tool: 'echo' }], defaults: { on_failure: ['skip', { fallback: 'send_email' }] } },
      { toolNames },
    );
    if (!d.success) throw new Error('expected a valid workflow');
    expect(isValidated(d.workflow, ['echo'])).toBe(false);
    expect(isValidated(d.workflow, ['echo', 'send_email'])).toBe(true);
  });
});

// Survivors of the first mutation pass over validate.ts (issue 21), each a behaviour no test pinned down.
describe('validateWorkflow: edges the first mutation pass missed', () => {
  it('an unknown key in a task gets a hint from the task keys; where no keys are known, "remove it"', () => {
    expect(issues([{ id: 'a', tool: 'echo', dependancies: [], on_failure: [{ retry: 1, x: 2 }] }])).toEqual([
      { code: 'unknown_field', path: 'tasks[0].on_failure[0].x', message: 'unknown field "x"', hint: 'remove it' },
      {
        code: 'unknown_field',
        path: 'tasks[0].dependancies',
        message: 'unknown field "dependancies"',
        hint: 'did you mean "dependencies"?',
      },
    ]);
  });

  it('a malformed condition object is reported and not read further (its depends_on is not checked)', () => {
    expect(issues([{ id: 'a', tool: 'echo', condition: { depends_on: 'zz', if_sttus: 'failed' } }])).toEqual([
      {
        code: 'unknown_field',
        path: 'tasks[0].condition.if_sttus',
        message: 'unknown field "if_sttus"',
        hint: 'did you mean "if_status"?',
      },
    ]);
  });

  it('salvage: a null task, a task without a tool and a dependency list with a non-string give their shape issues only', () => {
    expect(issues([null])).toEqual([
      { code: 'invalid_type', path: 'tasks[0]', message: 'expected object, received null, got `null`' },
    ]);
    // no unknown_tool for the missing tool, no unknown_task for the dropped dependency list
    expect(issues([{ id: 'a' }, { id: 'b', tool: 'echo', dependencies: ['zz', 5] }])).toEqual([
      {
        code: 'missing_field',
        path: 'tasks[0].tool',
        message: 'missing required field "tool"',
        hint: 'expected string',
      },
      {
        code: 'invalid_type',
        path: 'tasks[1].dependencies[1]',
        message: 'expected string, received number, got `5` (number)',
      },
    ]);
  });

  it('a cycle reached from a task outside it names only the tasks on the cycle', () => {
    expect(
      issues([
        { id: 'x', tool: 'echo', dependencies: ['a'] },
        { id: 'a', tool: 'echo', dependencies: ['b'] },
        { id: 'b', tool: 'echo', dependencies: ['a'] },
      ]),
    ).toEqual([
      {
        code: 'cycle',
        path: 'tasks[2].dependencies',
        message: 'dependency cycle: b → a → b',
        hint: 'break it, or use next_task_id_on_* routing for loops',
      },
    ]);
  });

  it('two cycles are both reported, also when their ids joined without a separator would read the same', () => {
    const hint = 'break it, or use next_task_id_on_* routing for loops';
    expect(
      issues([
        { id: 'ab', tool: 'echo', dependencies: ['c'] },
        { id: 'c', tool: 'echo', dependencies: ['ab'] },
        { id: 'a', tool: 'echo', dependencies: ['bc'] },
        { id: 'bc', tool: 'echo', dependencies: ['a'] },
      ]),
    ).toEqual([
      { code: 'cycle', path: 'tasks[1].dependencies', message: 'dependency cycle: c → ab → c', hint },
      { code: 'cycle', path: 'tasks[3].dependencies', message: 'dependency cycle: bc → a → bc', hint },
    ]);
  });

  it('each task is walked once in the cycle search: a ladder of 200 tasks (each on the two before) is quick', () => {
    const tasks = Array.from({ length: 200 }, (_, i) => ({
      id: `t${i}`,
      tool: 'echo',
      dependencies: i === 0 ? [] : i === 1 ? ['t0'] : [`t${i - 1}`, `t${i - 2}`],
    }));
    // walking a finished task again would take about 1.6^200 steps
    expect(validateWorkflow(tasks.reverse(), { toolNames }).success).toBe(true);
  });

  it('an unknown task or tool without a close name lists the known tasks, or says how to list tools', () => {
    expect(
      issues({
        tasks: [
          { id: 'a', tool: 'echo', dependencies: ['qqqqqqqq'] },
          { id: 'b', tool: 'qqqqqqqq' },
        ],
        output: '{{ tasks.qqqqqqqq.output }}',
      }),
    ).toEqual([
      {
        code: 'unknown_task',
        path: 'tasks[0].dependencies[0]',
        message: 'unknown task "qqqqqqqq"',
        hint: 'known tasks: a, b',
      },
      {
        code: 'unknown_tool',
        path: 'tasks[1].tool',
        message: 'unknown tool "qqqqqqqq"',
        hint: 'run `braid tools` to list tools, or load yours with --tools',
      },
      { code: 'unknown_task', path: 'output', message: 'unknown task "qqqqqqqq"', hint: 'known tasks: a, b' },
    ]);
  });

  it('a condition with two tests says to use one, and how', () => {
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        {
          id: 'b',
          tool: 'echo',
          dependencies: ['a'],
          condition: { depends_on: 'a', if_status: 'failed', when: 'true' },
        },
      ]),
    ).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[1].condition',
        message: 'use only one of if_status, when',
        hint: 'combine tests in one `when` expression',
      },
    ]);
  });

  it('a task may not read its own output, even when it routes back to itself', () => {
    expect(
      issues([{ id: 'a', tool: 'echo', next_task_id_on_failure: 'a', input: { v: '{{ tasks.a.output }}' } }]),
    ).toEqual([
      {
        code: 'non_upstream_reference',
        path: 'tasks[0].input.v',
        message: 'template "{{ tasks.a.output }}" reads task "a", which is not upstream of "a"',
        hint: 'add "a" to dependencies',
      },
    ]);
  });

  it('templates in for_each and in adjust inputs are reported at their own paths', () => {
    const hint = 'add "a" to dependencies';
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        {
          id: 'b',
          tool: 'echo',
          for_each: '{{ tasks.a.output.list }}',
          on_failure: [{ adjust: { input: { v: '{{ tasks.a.output }}' } } }],
        },
      ]),
    ).toEqual([
      {
        code: 'non_upstream_reference',
        path: 'tasks[1].for_each',
        message: 'template "{{ tasks.a.output.list }}" reads task "a", which is not upstream of "b"',
        hint,
      },
      {
        code: 'non_upstream_reference',
        path: 'tasks[1].on_failure[0].adjust.input.v',
        message: 'template "{{ tasks.a.output }}" reads task "a", which is not upstream of "b"',
        hint,
      },
    ]);
  });
});

describe('validateWorkflow: approval', () => {
  it('takes true, false and { when, edit, comment }; anything else is refused, an unknown field with a hint', () => {
    for (const approval of [true, false, {}, { when: 'input.value > 1', edit: true, comment: true }])
      expect(validateWorkflow([{ id: 'a', tool: 'echo', approval }], { toolNames }).success).toBe(true);
    expect(issues([{ id: 'a', tool: 'echo', approval: { wen: 'x' } }])).toEqual([
      {
        code: 'unknown_field',
        path: 'tasks[0].approval.wen',
        message: 'unknown field "wen"',
        hint: 'did you mean "when"?',
      },
    ]);
    expect(issues([{ id: 'a', tool: 'echo', approval: { edit: 'yes' } }])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].approval',
        message: 'expected true, false or { when?, edit?: bool, comment?: bool }, got `{"edit":"yes"}` (object)',
      },
    ]);
  });

  it('approval.when is an expression like a condition: it must parse and read only upstream tasks', () => {
    expect(issues([{ id: 'a', tool: 'echo', approval: { when: 'input.(' } }])).toEqual([
      {
        code: 'invalid_expression',
        path: 'tasks[0].approval.when',
        message: 'expression does not parse at character 7: Expected ")" before end of expression',
        hint: 'approval.when is JSONata over { input, tasks, output }, e.g. input.amount > 100',
      },
    ]);
    expect(
      issues([
        { id: 'a', tool: 'echo' },
        { id: 'b', tool: 'echo', approval: { when: 'tasks.a.output = 1' } },
      ]),
    ).toEqual([expect.objectContaining({ code: 'non_upstream_reference', path: 'tasks[1].approval.when' })]);
  });

  it('a for_each task cannot take an edited input', () => {
    expect(issues([{ id: 'a', tool: 'echo', for_each: '{{ input.list }}', approval: { edit: true } }])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].approval.edit',
        message: 'a for_each task has one input per item: its approval cannot carry an edited input',
        hint: 'remove approval.edit, or approve the task that makes the list',
      },
    ]);
  });
});
