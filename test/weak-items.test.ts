/**
 * Issue 30's weak items, end to end: `braid validate` refuses a literal non-object input the tool would refuse
 * at run time, and an `inputs` schema whose `$ref` loops (it used to pass and crash the run, a 500 over HTTP);
 * tasks named like Object.prototype's members (`toString`, `valueOf`) run and are explained like any other, and
 * explaining a task the run does not have (`__proto__`, `constructor`, `toString`) is a clean 404.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputValidationError, JsonlRunStore } from '../src/index.js';
import { resolveInput } from '../src/engine/run.js';
import { explainTask } from '../src/store/explain.js';
import { WorkflowCatalog } from '../src/service/catalog.js';
import type { RunningServer } from '../src/server/serve.js';
import type { Workflow } from '../src/spec/workflow.js';
import { braid } from './support/cli.js';
import { serveForTest } from './support/server.js';

const base = mkdtempSync(join(tmpdir(), 'braid-weak-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(base, name);
  writeFileSync(path, text);
  return path;
};

describe('braid validate', () => {
  it('a literal input that is not an object, for a tool that takes one, is exit 2 at tasks[i].input', async () => {
    for (const literal of ['5', '"x"', '[1, 2]']) {
      const path = file(
        'literal.yaml',
        `tasks:\n  - id: a\n    tool: echo\n  - id: s\n    tool: calculate\n    input: ${literal}\n`,
      );
      const r = await braid(['validate', path]);
      expect(r.code, literal).toBe(2);
      expect(r.stderr, literal).toMatch(
        /tasks\[1\]\.input: calculate takes an object; this literal input is a (number|string|list)/,
      );
      expect(r.stderr, literal).toMatch(
        /give its fields: input: \{ expression: \.\.\. \} \(see braid tools for calculate\)/,
      );
    }
    // The same input as a whole-input template is left to run time.
    const templated = file('templated.yaml', `tasks:\n  - id: s\n    tool: calculate\n    input: "{{ input.q }}"\n`);
    expect((await braid(['validate', templated])).code).toBe(0);
  });

  it('inputs with a $ref that loops is exit 2 naming where; the run is refused before it starts', async () => {
    const path = file(
      'ref.yaml',
      `inputs: { $ref: "#" }\ntasks:\n  - id: a\n    tool: echo\n    input: { value: 1 }\n`,
    );
    const v = await braid(['validate', path]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/inputs\.\$ref: this \$ref leads back to itself/);
    const r = await braid(['run', path, '--no-store']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/inputs\.\$ref: this \$ref leads back to itself/);
    expect(r.stderr).not.toMatch(/RangeError|Maximum call stack|\n\s+at /);
  });

  it('a workflow that reaches a run without validate still gets an input error for such a schema, not a crash', () => {
    const unvalidated = { name: 'x', inputs: { $ref: '#' }, tasks: [] } as unknown as Workflow;
    expect(() => resolveInput(unvalidated, { a: 1 })).toThrow(InputValidationError);
    expect(() => resolveInput(unvalidated, { a: 1 })).toThrow(/inputs: the workflow's inputs schema cannot check/);
  });
});

describe('explainTask', () => {
  it('a name that is only an Object.prototype member of an ordinary run object is no task: E_NOT_FOUND', async () => {
    const workflow = { name: 'w', tasks: [{ id: 'a', tool: 'echo' }] } as unknown as Workflow;
    const run = { runId: 'r', status: 'succeeded', tasks: { a: { status: 'succeeded', attempts: 1, visits: 1 } } };
    for (const id of ['__proto__', 'constructor', 'toString'])
      await expect(explainTask({ workflow, input: {} }, run as never, id), id).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
        message: `no task "${id}" in workflow "w" (tasks: a)`,
      });
  });
});

describe('braid serve: such workflows and task names', () => {
  let server: RunningServer;
  const get = (path: string) => fetch(`${server.url}${path}`);
  beforeAll(async () => {
    const dir = join(base, 'workflows');
    mkdirSync(dir);
    writeFileSync(join(dir, 'looped.yaml'), `name: looped\ninputs: { $ref: "#" }\ntasks:\n  - id: a\n    tool: echo\n`);
    // __proto__, constructor and prototype are reserved task ids; the other members of Object.prototype are not.
    writeFileSync(
      join(dir, 'protos.yaml'),
      `name: protos
tasks:
  - id: toString
    tool: echo
    input: { value: one }
  - id: valueOf
    tool: echo
    input: { value: "{{ tasks.toString.output }} two" }
    dependencies: [toString]
output: "{{ tasks.valueOf.output }}"
`,
    );
    writeFileSync(
      join(dir, 'plain.yaml'),
      `name: plain\ntasks:\n  - id: only\n    tool: echo\n    input: { value: 1 }\n`,
    );
    const catalog = await WorkflowCatalog.load(dir);
    server = await serveForTest(catalog, { store: new JsonlRunStore(join(base, 'runs')) });
  });
  afterAll(() => server?.close());

  const run = async (workflow: string) => {
    const res = await fetch(`${server.url}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow }),
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    for (let i = 0; i < 100; i++) {
      const r = (await (await get(`/runs/${runId}`)).json()) as any;
      if (r.status !== 'running') return r;
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error('the run did not finish');
  };

  it('a workflow whose inputs $ref loops is not served: a problem of the catalog, never a 500', async () => {
    const list = (await (await get('/workflows')).json()) as { workflows: { name: string }[]; problems: string[] };
    expect(list.workflows.map((w) => w.name).sort()).toEqual(['plain', 'protos']);
    expect(list.problems.join('\n')).toMatch(/looped\.yaml: inputs\.\$ref: this \$ref leads back to itself/);
    const res = await fetch(`${server.url}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow: 'looped' }),
    });
    expect(res.status).toBe(404);
  });

  it('tasks named toString and valueOf run, are recorded and explained', async () => {
    const r = await run('protos');
    expect(r.status).toBe('succeeded');
    expect(r.output).toBe('one two');
    expect(Object.keys(r.tasks).sort()).toEqual(['toString', 'valueOf']);
    for (const id of ['toString', 'valueOf']) {
      const res = await get(`/runs/${r.runId}/tasks/${id}/explain`);
      expect(res.status, id).toBe(200);
      const { lines } = (await res.json()) as { lines: string[] };
      expect(lines[0], id).toMatch(new RegExp(`^${id} ran .* and succeeded`));
    }
  });

  it('explaining a task named like an Object.prototype member that the run does not have is a 404', async () => {
    const r = await run('plain');
    for (const id of ['__proto__', 'constructor', 'toString', 'valueOf']) {
      const res = await get(`/runs/${r.runId}/tasks/${id}/explain`);
      expect(res.status, id).toBe(404);
      expect(((await res.json()) as { error: { code: string; message: string } }).error, id).toEqual({
        code: 'E_NOT_FOUND',
        message: expect.stringContaining(`has no task "${id}"`),
        path: 'taskId',
      });
    }
  });
});
