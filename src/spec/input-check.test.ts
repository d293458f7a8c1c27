/** Task inputs checked before anything runs (input-check.ts): literal values, and a source for every required field. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../toolkit/define-tool.js';
import { ToolRegistry } from '../toolkit/registry.js';
import { checkInputs } from './input-check.js';
import { validateWorkflow } from './validate.js';

const email = defineTool({
  name: 'email',
  input: z.object({ subject: z.string(), to: z.string(), body: z.string().default('') }),
  output: z.object({ sent: z.boolean() }),
  run: () => ({ sent: true }),
});
const search = defineTool({
  name: 'search',
  input: z.object({ query: z.string(), limit: z.number().optional() }),
  output: z.object({ subject: z.string() }),
  run: () => ({ subject: 's' }),
});
const open = defineTool({ name: 'open', input: z.object({ a: z.string() }).passthrough(), run: () => 1 });
const registry = new ToolRegistry([email, search, open]);

function wf(value: unknown) {
  const r = validateWorkflow(value, { toolNames: registry.names() });
  if (!r.success) throw new Error(JSON.stringify(r.issues));
  return r.workflow;
}

const missingTo = (index: number, byName = false) => ({
  code: 'missing_input',
  path: `tasks[${index}].input.to`,
  message: 'task "e" (email) needs "to" and nothing gives it',
  hint: `give it with --input to=..., with input: { to: ... } on the task, or as a default in inputs.properties.to.default${byName ? ', or from an upstream whose output has "to"' : ''}`,
});

describe('checkInputs: literal input values', () => {
  it('an unknown field gets a did-you-mean, a wrong literal the schema message', () => {
    expect(
      checkInputs(wf([{ id: 'e', tool: 'email', input: { subjet: 'x', to: 42, subject: 'ok' } }]), registry, []),
    ).toEqual([
      {
        code: 'unknown_field',
        path: 'tasks[0].input.subjet',
        message: 'email has no input field "subjet"',
        hint: 'did you mean "subject"?',
      },
      {
        code: 'invalid_value',
        path: 'tasks[0].input.to',
        message: 'email: Invalid input: expected string, received number',
        hint: "see braid tools for email's input",
      },
    ]);
    expect(checkInputs(wf([{ id: 's', tool: 'search', input: { query: 'q', limit: 'many' } }]), registry, [])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].input.limit',
        message: 'search: Invalid input: expected number, received string',
        hint: "see braid tools for search's input",
      },
    ]);
  });

  it('an unknown field of a tool without a close name lists the fields', () => {
    const [issue] = checkInputs(
      wf([{ id: 'e', tool: 'email', input: { qqqqqqqq: 1, subject: 's', to: 't' } }]),
      registry,
      [],
    );
    expect(issue.hint).toBe('its fields: subject, to, body');
  });

  it('a task whose on_failure can repair its input gets warnings, not errors', () => {
    const w = wf([
      { id: 'e', tool: 'email', input: { subjet: 'x', to: 42, subject: 's' }, on_failure: [{ adjust: { llm: true } }] },
    ]);
    expect(checkInputs(w, registry, [])).toEqual([
      {
        code: 'unknown_field',
        path: 'tasks[0].input.subjet',
        message: 'email has no input field "subjet"',
        hint: 'did you mean "subject"?; on_failure may repair it at run time',
        severity: 'warning',
      },
      {
        code: 'invalid_value',
        path: 'tasks[0].input.to',
        message: 'email: Invalid input: expected string, received number',
        hint: "see braid tools for email's input; on_failure may repair it at run time",
        severity: 'warning',
      },
    ]);
    const fallback = wf({
      tasks: [{ id: 'e', tool: 'email', input: { to: 42, subject: 's' } }],
      defaults: { on_failure: [{ fallback: 'search' }] },
    });
    expect(checkInputs(fallback, registry, []).map((i) => i.severity)).toEqual(['warning']);
    const retry = wf([{ id: 'e', tool: 'email', input: { to: 42, subject: 's' }, on_failure: ['skip', { retry: 2 }] }]);
    expect(checkInputs(retry, registry, []).map((i) => i.severity)).toEqual([undefined]);
  });

  it('templates, whole-input templates and open schemas are left to run time', () => {
    expect(
      checkInputs(
        wf([{ id: 'e', tool: 'email', input: { subject: '{{ input.s }}', to: '{{ input.t }}' } }]),
        registry,
        [],
      ),
    ).toEqual([]);
    expect(checkInputs(wf([{ id: 'e', tool: 'email', input: '{{ input }}' }]), registry, [])).toEqual([]);
    expect(checkInputs(wf([{ id: 'o', tool: 'open', input: { a: 'x', extra: 1 } }]), registry, [])).toEqual([]);
  });

  it('a literal input that is not an object, for a tool that takes one, is an error at tasks[i].input', () => {
    const hint = 'give its fields: input: { query: ..., limit: ... } (see braid tools for search)';
    for (const [input, got] of [
      [5, 'a number'],
      ['x', 'a string'],
      [['q'], 'a list'],
      [null, 'null'],
      [true, 'a boolean'],
    ] as const)
      expect(checkInputs(wf([{ id: 's', tool: 'search', input }]), registry, []), got).toEqual([
        {
          code: 'invalid_type',
          path: 'tasks[0].input',
          message: `search takes an object; this literal input is ${got}`,
          hint,
        },
      ]);
    // A tool whose input is a string takes one.
    const shout = defineTool({ name: 'shout', input: z.string(), run: (s) => s.toUpperCase() });
    const withShout = new ToolRegistry([shout]);
    const ok = validateWorkflow([{ id: 'x', tool: 'shout', input: 'hi' }], { toolNames: withShout.names() });
    expect(ok.success && checkInputs(ok.workflow, withShout, [])).toEqual([]);
  });
});

describe('checkInputs: every required field has a source', () => {
  it('a required field nothing gives is missing_input; a run input of that name gives it', () => {
    const w = wf([{ id: 'e', tool: 'email', input: { subject: 's' } }]);
    expect(checkInputs(w, registry, [])).toEqual([missingTo(0)]);
    expect(checkInputs(w, registry, ['to'])).toEqual([]);
    expect(checkInputs(w, registry, ['subject'])).toEqual([missingTo(0)]);
  });

  it('names declared in inputs count only when declaredCount (braid validate)', () => {
    const w = wf({
      tasks: [{ id: 'e', tool: 'email', input: { subject: 's' } }],
      inputs: { type: 'object', properties: { to: { type: 'string' } } },
    });
    expect(checkInputs(w, registry, [], { declaredCount: true })).toEqual([]);
    expect(checkInputs(w, registry, [])).toEqual([missingTo(0)]);
  });

  it('an upstream whose output has the field gives it; a for_each upstream gives no field by name', () => {
    expect(
      checkInputs(
        wf([
          { id: 's', tool: 'search', input: { query: 'q' } },
          { id: 'e', tool: 'email', dependencies: ['s'], input: { to: 'x' } },
        ]),
        registry,
        [],
      ),
    ).toEqual([]);
    expect(
      checkInputs(
        wf([
          { id: 's', tool: 'search', input: { query: 'q' } },
          { id: 'e', tool: 'email', dependencies: ['s'] },
        ]),
        registry,
        [],
      ),
    ).toEqual([missingTo(1, true)]);
    const viaForEach = checkInputs(
      wf([
        { id: 's', tool: 'search', input: { query: 'q' } },
        {
          id: 'f',
          tool: 'search',
          dependencies: ['s'],
          for_each: '{{ tasks.s.output.list }}',
          input: { query: '{{ item }}' },
        },
        { id: 'e', tool: 'email', dependencies: ['f'], input: { to: 'x' } },
      ]),
      registry,
      [],
    );
    expect(viaForEach.map((i) => i.path)).toEqual(['tasks[2].input.subject']);
  });

  it('the static part is cached per workflow and tool set: a different tool of the same name is checked anew', () => {
    const w = wf([{ id: 'e', tool: 'email', input: { subject: 's' } }]);
    expect(checkInputs(w, registry, [])).toHaveLength(1);
    const relaxed = defineTool({ name: 'email', input: z.object({ subject: z.string() }), run: () => 1 });
    expect(checkInputs(w, new ToolRegistry([relaxed]), [])).toEqual([]);
    expect(checkInputs(w, registry, [])).toHaveLength(1);
  });
});

// Survivors of the first mutation pass over input-check.ts (issue 21), each a behaviour no test pinned down.
describe('checkInputs: edges the first mutation pass missed', () => {
  it('a task whose tool the registry lacks is skipped; a registry with more tools is checked anew', () => {
    const w = wf([
      { id: 'e', tool: 'email', input: { subject: 's', to: 't' } },
      { id: 's', tool: 'search', input: { query: 42 } },
    ]);
    expect(checkInputs(w, new ToolRegistry([email]), [])).toEqual([]);
    expect(checkInputs(w, registry, []).map((i) => i.path)).toEqual(['tasks[1].input.query']);
  });

  it('the cache compares every tool: another tool in the second place is checked anew', () => {
    const w = wf([
      { id: 'e', tool: 'email', input: { subject: 's', to: 't' } },
      { id: 's', tool: 'search', input: { query: 42 } },
    ]);
    expect(checkInputs(w, registry, [])).toHaveLength(1);
    const loose = defineTool({ name: 'search', input: z.object({ query: z.unknown() }), run: () => 1 });
    expect(checkInputs(w, new ToolRegistry([email, loose]), [])).toEqual([]);
  });

  it('the static part is computed once per workflow and tool set (a second check does not look at the tools)', () => {
    let looks = 0;
    const counted = defineTool({
      name: 'email',
      input: z.object({ subject: z.string() }),
      run: () => 1,
      get upstream() {
        looks++;
        return undefined;
      },
    });
    const w = wf([{ id: 'e', tool: 'email', input: { subject: 's' } }]);
    const tools = new ToolRegistry([counted]);
    expect(checkInputs(w, tools, [])).toEqual([]);
    const first = looks;
    expect(first).toBeGreaterThan(0);
    expect(checkInputs(w, tools, ['x'])).toEqual([]);
    expect(looks).toBe(first);
  });

  it('a tool without input fields (z.unknown()) takes any input; a strict schema reports unknown fields', () => {
    const free = defineTool({ name: 'free', input: z.unknown(), run: () => 1 });
    const strict = defineTool({ name: 'strict', input: z.strictObject({ a: z.string() }), run: () => 1 });
    const tools = new ToolRegistry([free, strict]);
    const w = validateWorkflow(
      [
        { id: 'f', tool: 'free', input: { anything: 1 } },
        { id: 's', tool: 'strict', input: { a: 'x', zzzz: 1 } },
      ],
      { toolNames: tools.names() },
    );
    if (!w.success) throw new Error(JSON.stringify(w.issues));
    expect(checkInputs(w.workflow, tools, [])).toEqual([
      {
        code: 'unknown_field',
        path: 'tasks[1].input.zzzz',
        message: 'strict has no input field "zzzz"',
        hint: 'its fields: a',
      },
    ]);
  });

  it('a template in a field of another type is left to run time; a bad list item is reported at its index', () => {
    expect(
      checkInputs(wf([{ id: 's', tool: 'search', input: { query: 'q', limit: '{{ input.n }}' } }]), registry, []),
    ).toEqual([]);
    const tagged = defineTool({ name: 'tagged', input: z.object({ tags: z.array(z.string()) }), run: () => 1 });
    const tools = new ToolRegistry([tagged]);
    const w = validateWorkflow([{ id: 't', tool: 'tagged', input: { tags: ['a', 3] } }], { toolNames: ['tagged'] });
    if (!w.success) throw new Error(JSON.stringify(w.issues));
    expect(checkInputs(w.workflow, tools, [])).toEqual([
      {
        code: 'invalid_value',
        path: 'tasks[0].input.tags[1]',
        message: 'tagged: Invalid input: expected string, received number',
        hint: "see braid tools for tagged's input",
      },
    ]);
  });
});
