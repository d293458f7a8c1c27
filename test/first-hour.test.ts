/**
 * A new user's first hour: an overall output, validation that catches what runs would and never crashes,
 * usage errors that name what was wrong, tool errors that keep their location, workflows folders that
 * hold other files. Each test failed on the code before issue 13.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, JsonlRunStore, runWorkflow, validateWorkflow, WorkflowCatalog } from '../src/index.js';
import { braid, ROOT } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-first-hour-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('an overall result (workflow output)', () => {
  it('output: renders templates over the finished tasks, and is in the result, the record and --json', async () => {
    const wf = {
      name: 'out',
      output: { total: '{{ tasks.b.output }}', first: '{{ tasks.a.output }}', topic: '{{ input.topic }}' },
      tasks: [
        { id: 'a', tool: 'echo', input: { value: 1 } },
        { id: 'b', tool: 'echo', input: { value: 2 }, dependencies: ['a'] },
      ],
    };
    const store = new JsonlRunStore(join(dir, 'runs'));
    const r = await runWorkflow(wf, { input: { topic: 'kites' }, store });
    expect(r.output).toEqual({ total: 2, first: 1, topic: 'kites' });
    const recorded = await store.read(r.runId);
    expect(recorded.events.at(-1)).toMatchObject({ type: 'run.finished', output: { total: 2 } });
    const path = file('out.json', JSON.stringify(wf));
    const cli = await braid(['run', path, '--json', '--input', 'topic=kites']);
    expect(JSON.parse(cli.stdout).output).toEqual({ total: 2, first: 1, topic: 'kites' });
    const human = await braid(['run', path, '--input', 'topic=kites']);
    expect(human.stdout).toMatch(/\noutput \{\n {2}"total": 2,/);
  });

  it('without output: the outputs of the tasks nothing depends on that succeeded, keyed by id', async () => {
    const r = await runWorkflow(
      [
        { id: 'a', tool: 'echo', input: { value: 1 } },
        { id: 'b', tool: 'echo', input: { value: 2 }, dependencies: ['a'] },
        { id: 'c', tool: 'echo', input: { value: 3 }, dependencies: ['a'] },
        { id: 'never', tool: 'echo', input: { value: 4 }, condition: 'false' },
      ],
      { store: false },
    );
    expect(r.output).toEqual({ b: 2, c: 3 });
  });

  it('an output template naming an unknown task is a validation error', () => {
    const r = validateWorkflow({ output: '{{ tasks.nope.output }}', tasks: [{ id: 'a', tool: 'echo' }] });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.issues[0]).toMatchObject({ code: 'unknown_task', path: 'output' });
  });
});

describe('validation agrees with what a run would reject, and never crashes', () => {
  it('literal tool inputs are checked against the tool: an unknown field with did-you-mean, a wrong type, exit 2', async () => {
    const path = file(
      'typo.yaml',
      'tasks:\n  - id: a\n    tool: web_search\n    input: { query: 42 }\n  - id: b\n    tool: send_email\n    input: { to: a@b.co, subjet: hi, body: hello }\n',
    );
    const v = await braid(['validate', path]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('tasks[0].input.query: web_search: Invalid input: expected string, received number');
    expect(v.stderr).toContain(
      'tasks[1].input.subjet: send_email has no input field "subjet" (did you mean "subject"?)',
    );
  });

  it('fields that name tasks tolerate null, numbers, objects and lists (issues, not a TypeError)', () => {
    for (const bad of [null, 5, { a: 1 }, [null], [1, 2], true]) {
      const r = validateWorkflow([
        {
          id: 'a',
          tool: 'echo',
          dependencies: bad,
          next_task_id_on_success: bad,
          condition: { depends_on: bad, if_result: 'x' },
        },
      ]);
      expect(r.success).toBe(false);
    }
    const r = validateWorkflow([{ id: 'a', tool: 'echo', condition: { depends_on: null, if_result: 'x' } }]);
    if (!r.success) expect(r.issues[0].message).toBe('expected a task id or a list of them, got `null`');
  });

  it('5,000 tasks in reverse order, 20,000 templates reading the first task, and "{{" with 5,000 spaces validate quickly', () => {
    const reverse = Array.from({ length: 5000 }, (_, i) => ({
      id: `t${i}`,
      tool: 'echo',
      input: { value: 1 },
      dependencies: i < 4999 ? [`t${i + 1}`] : [],
    }));
    expect(validateWorkflow(reverse).success).toBe(true);
    const chain = Array.from({ length: 20000 }, (_, i) => ({
      id: `t${i}`,
      tool: 'echo',
      input: { value: i ? '{{ tasks.t0.output }}' : 1 },
      dependencies: i ? [`t${i - 1}`] : [],
    }));
    expect(validateWorkflow(chain).success).toBe(true);
    expect(validateWorkflow([{ id: 'a', tool: 'echo', input: { value: `{{${' '.repeat(5000)}` } }]).success).toBe(true);
  });

  it('a YAML alias bomb and a file nested 10,000 deep get exit 2 with a clear message', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [prev, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
      ['f', 'g'],
    ])
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    const bomb = await braid(['validate', file('bomb.yaml', `${levels.join('\n')}\ntasks: []\n`)]);
    expect(bomb.code).toBe(2);
    expect(bomb.stderr).toMatch(/too many alias expansions/);
    const deep = await braid([
      'validate',
      file(
        'deep.json',
        `{"tasks":[{"id":"a","tool":"echo","input":{"value":${'['.repeat(10000)}1${']'.repeat(10000)}}}]}`,
      ),
    ]);
    expect(deep.code).toBe(2);
    expect(deep.stderr).toMatch(/nested more than 64 levels deep \(at tasks\[0\]\.input\.value/);
    expect(deep.stderr).not.toMatch(/ at \w+ \(/); // no stack trace
  });

  it('a YAML quote left open is reported on the line where it opens', async () => {
    const path = file(
      'quote.yaml',
      'name: x\ntasks:\n  - id: a\n    tool: echo\n    input: { value: "oops }\n  - id: b\n    tool: echo\n    input: { value: 1 }\n',
    );
    const v = await braid(['validate', path]);
    expect(v.stderr).toContain('line 5: invalid YAML: a double quote opened here is never closed');
  });

  it('prototype names are not task ids, and templates never read inherited members', async () => {
    for (const id of ['__proto__', 'constructor', 'prototype']) {
      const r = validateWorkflow([{ id, tool: 'echo', input: { value: 1 } }]);
      expect(r.success).toBe(false);
    }
    const r = await runWorkflow(
      [
        {
          id: 'a',
          tool: 'echo',
          input: {
            value: { c: '{{ input.constructor }}', p: '{{ input.__proto__ }}', h: '{{ input.hasOwnProperty }}' },
          },
        },
      ],
      { input: {}, store: false },
    );
    expect(r.tasks.a.output).toEqual({ c: null, p: null, h: null });
  });
});

describe('usage errors name what was wrong', () => {
  it('--concurrency lots names the option (exit 2)', async () => {
    const r = await braid(['run', 'examples/parallel.yaml', '--concurrency', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "option '-c, --concurrency <n>' argument 'lots' is invalid. expected an integer >= 1, got \"lots\"",
    );
  });

  it('a tools module with a syntax error is reported as file:line:column', async () => {
    const path = file('bad-tools.mjs', 'export const a = 1;\nexport const b = {\n  name: "x",,\n};\n');
    const r = await braid(['run', 'examples/parallel.yaml', '--tools', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path}:3:13: cannot load module: Unexpected token ','`);
  });

  it('braid serve on a port in use says so and exits 2', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await braid(['serve', '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    } finally {
      blocker.close();
    }
  });

  it('braid graph draws a file whose tools are not registered', async () => {
    const r = await braid(['graph', 'examples/custom-tools/flow.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/word_count/);
  });
});

describe('errors in user tools keep their location', () => {
  it('the stack frames in tool code are recorded, and explain and show print them', async () => {
    const broken = defineTool({
      name: 'broken',
      input: z.object({ n: z.number() }),
      run: ({ n }) => {
        if (n > 1) throw new Error(`the helper broke on ${n}`);
        return n;
      },
    });
    const r = await runWorkflow([{ id: 'a', tool: 'broken', input: { n: 5 } }], { tools: [broken], store: false });
    expect(r.tasks.a.error?.stack).toMatch(/first-hour\.test\.ts:\d+:\d+/);
    expect(r.tasks.a.error?.stack).not.toMatch(/scheduler|node:internal/);
    // braid's own errors carry no stack
    const t = await runWorkflow([{ id: 'a', tool: 'sleep', input: { ms: 200 }, timeout_ms: 10 }], { store: false });
    expect(t.tasks.a.error).toMatchObject({ code: 'E_TIMEOUT' });
    expect(t.tasks.a.error?.stack).toBeUndefined();
  });
});

describe('chat --workflows loads workflows only', () => {
  it('a folder with other scripts and data files: scripts are not run, non-workflows are skipped in one line each', async () => {
    const folder = join(dir, 'workflows');
    mkdirSync(folder);
    const marker = join(dir, 'script-ran');
    writeFileSync(
      join(folder, 'hello.yaml'),
      'name: hello\ntasks:\n  - id: a\n    tool: echo\n    input: { value: hi }\n',
    );
    writeFileSync(join(folder, 'config.json'), '{ "port": 8080 }');
    writeFileSync(
      join(folder, 'deploy.mjs'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'oops');\n`,
    );
    writeFileSync(
      join(folder, 'broken.yaml'),
      'tasks:\n  - id: a\n    tool: nope\n    retrys: 1\n  - id: b\n    tool: nope\n',
    );
    const catalog = await WorkflowCatalog.load(folder);
    expect(catalog.list().map((e) => e.name)).toEqual(['hello']);
    expect(existsSync(marker)).toBe(false);
    expect(catalog.problems).toHaveLength(3);
    expect(catalog.problems.find((p) => p.includes('config.json'))).toMatch(/skipped, not a workflow \(no tasks\)/);
    expect(catalog.problems.find((p) => p.includes('deploy.mjs'))).toMatch(/not a workflow module .*not run/);
    expect(catalog.problems.find((p) => p.includes('broken.yaml'))).toMatch(
      /\(\+\d+ more: braid validate .*broken\.yaml\)$/,
    );
  });

  it("the packaged TypeScript example imports 'braid', not ../src", () => {
    const text = readFileSync(join(ROOT, 'examples/research-report.ts'), 'utf8');
    expect(text).toMatch(/from 'braid'/);
    expect(text).not.toMatch(/\.\.\/src/);
  });
});

describe('loops and resumes read right', () => {
  it('a resumed run counts the time it was worked on, not the time it lay stopped; a task run again times its new run', async () => {
    const { foldRun } = await import('../src/index.js');
    const t0 = Date.parse('2026-11-29T10:00:00.000Z');
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const base = { runId: 'r1' };
    const events = [
      { ...base, seq: 1, ts: at(0), type: 'run.started', workflow: 'w', tasks: 1, input: {} },
      { ...base, seq: 2, ts: at(1), type: 'task.ready', taskId: 'a', visit: 1 },
      { ...base, seq: 3, ts: at(10), type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1 },
      // the process died here; resumed an hour later
      { ...base, seq: 4, ts: at(3_600_000), type: 'run.resumed', reused: 0, pid: 1 },
      { ...base, seq: 5, ts: at(3_600_001), type: 'task.ready', taskId: 'a', visit: 1 },
      { ...base, seq: 6, ts: at(3_600_010), type: 'task.started', taskId: 'a', tool: 'echo', attempt: 1, visit: 1 },
      {
        ...base,
        seq: 7,
        ts: at(3_600_030),
        type: 'task.succeeded',
        taskId: 'a',
        attempt: 1,
        visit: 1,
        durationMs: 20,
        output: 1,
      },
      { ...base, seq: 8, ts: at(3_600_040), type: 'run.finished', status: 'succeeded', durationMs: 40 },
    ];
    const run = foldRun({ events: events as never, problems: [] });
    expect(run.activeMs).toBe(10 + 40);
    expect(Date.parse(run.tasks.a.endedAt!) - Date.parse(run.tasks.a.startedAt!)).toBe(20);
    const { summaryTable } = await import('../src/cli/format.js');
    expect(summaryTable(run as never, false)).toMatch(
      /^w succeeded in 50ms of work \(60m0s from start to end, with a resume\)/,
    );
  });

  it('the table shows visits apart from attempts, and run ids accept latest and a unique prefix', async () => {
    const home = mkdtempSync(join(tmpdir(), 'braid-ids-'));
    try {
      const env = { BRAID_HOME: home };
      const run = await braid(['run', 'examples/retry-loop.yaml', '--input', 'topic=bike sharing'], { env });
      expect(run.stdout).toMatch(/task\s+status\s+duration\s+visits\s+attempts/);
      expect(run.stdout).toMatch(/\ngenerate\s+✔ succeeded\s+\S+\s+2\s+2\s/);
      const latest = await braid(['show', 'latest'], { env });
      const id = /\(run (\S+)\)/.exec(latest.stdout)![1];
      expect(run.stdout).toContain(id);
      const byPrefix = await braid(['explain', id.slice(0, 17), 'generate'], { env });
      expect(byPrefix.stdout).toMatch(/generate ran \(2 attempts over 2 visits\)/);
      const logs = await braid(['logs', 'latest'], { env });
      expect(logs.stderr).toMatch(/\(not shown: \d+ task\.ready, .*--all shows every event\)/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
