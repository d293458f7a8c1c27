/**
 * Any thrown value is an error record (issue 30): a tool that throws `Object.create(null)`, an object whose
 * `toString` and `message` throw, a Symbol or a Proxy whose every trap throws fails its task with a readable
 * message; a throw from a timer after the tool returned is reported, not a crash. Through the real `braid serve`
 * (a child process, several runs at once) and `braid run`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeThrown } from '../src/core/thrown.js';
import { toErrorRecord } from '../src/errors.js';
import { JsonlRunStore } from '../src/index.js';
import { BIN, braid, ROOT } from './support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'braid-thrown-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const home = join(base, 'home');
const workflows = join(base, 'workflows');
mkdirSync(workflows);

const tools = join(base, 'weird-tools.mjs');
writeFileSync(
  tools,
  `const tool = (name, run) => ({ name, description: name, run });
const hostile = new Proxy({}, {
  get() { throw new Error('get trap'); },
  getPrototypeOf() { throw new Error('getPrototypeOf trap'); },
  has() { throw new Error('has trap'); },
  ownKeys() { throw new Error('ownKeys trap'); },
  getOwnPropertyDescriptor() { throw new Error('descriptor trap'); },
});
export const nullproto = tool('nullproto', () => { throw Object.create(null); });
export const liar = tool('liar', () => {
  throw { get message() { throw new Error('no message'); }, toString() { throw new Error('no text'); } };
});
export const symbol = tool('symbol', async () => { throw Symbol('kaboom'); });
export const proxy = tool('proxy', () => { throw hostile; });
export const late = tool('late', () => {
  setTimeout(() => { throw new Error('late boom from a timer'); }, 50);
  setTimeout(() => void Promise.reject(Object.create(null)), 60);
  return 'returned';
});
`,
);
const weird = ['nullproto', 'liar', 'symbol', 'proxy'] as const;
for (const name of [...weird, 'late'])
  writeFileSync(join(workflows, `${name}.yaml`), `name: ${name}\ntasks:\n  - id: call\n    tool: ${name}\n`);
writeFileSync(
  join(workflows, 'good.yaml'),
  `name: good
tasks:
  - id: nap
    tool: sleep
    input: { ms: 400 }
  - id: say
    tool: echo
    input: { value: fine }
    dependencies: [nap]
output: "{{ tasks.say.output }}"
`,
);

/** The message each weird tool's task fails with. */
const expected: Record<(typeof weird)[number], RegExp> = {
  nullproto: /^threw \[object Object\] without a message$/,
  liar: /^threw \[object Object\] without a message$/,
  symbol: /^threw Symbol\(kaboom\)$/,
  proxy: /^threw an object without a message$/,
};

describe('describeThrown and toErrorRecord', () => {
  it('never throw, and say what they can of any value', () => {
    const liar = {
      get message(): string {
        throw new Error('no');
      },
      toString(): string {
        throw new Error('no');
      },
    };
    const cases: [unknown, string][] = [
      [Object.create(null), 'threw [object Object] without a message'],
      [liar, 'threw [object Object] without a message'],
      [Symbol('s'), 'threw Symbol(s)'],
      [Symbol(), 'threw Symbol()'],
      [null, 'threw null'],
      [undefined, 'threw undefined'],
      ['plain text', 'plain text'],
      [42, '42'],
      [{ reason: 'quota' }, '{"reason":"quota"}'],
      [Object.assign(Object.create(null), { message: 'has one' }), 'has one'],
      [new Error(''), 'Error'],
      [new TypeError('bad type'), 'bad type'],
    ];
    for (const [value, message] of cases) {
      expect(describeThrown(value).message).toBe(message);
      expect(toErrorRecord(value).message).toBe(message);
    }
    const coded = Object.assign(new Error('x'), { code: 'E_X' });
    expect(toErrorRecord(coded)).toMatchObject({ message: 'x', code: 'E_X' });
  });
});

describe('braid serve with tools that throw anything', () => {
  let child: ChildProcess;
  let stderr = '';
  let url: string;
  beforeAll(async () => {
    child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--workflows', workflows, '--tools', tools], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: '', BRAID_HOME: home, BRAID_TOKEN: '' },
    });
    child.stderr!.on('data', (d) => (stderr += d));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`braid serve did not start: ${stderr}`)), 20_000);
      child.stderr!.on('data', () => {
        const m = /braid serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) (clearTimeout(timer), resolve(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`braid serve exited ${code}: ${stderr}`)));
    });
  }, 30_000);
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  const start = async (workflow: string): Promise<string> => {
    const res = await fetch(`${url}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { runId: string }).runId;
  };
  const finished = async (runId: string): Promise<any> => {
    for (let i = 0; i < 200; i++) {
      const run = (await (await fetch(`${url}/runs/${runId}`)).json()) as { status: string };
      if (!['running', 'pending'].includes(run.status)) return run;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  it('fails each such task with a readable message, records every run to its end, and stays up', async () => {
    const good = await start('good');
    const ids = Object.fromEntries(await Promise.all(weird.map(async (w) => [w, await start(w)] as const)));
    const late = await start('late');
    const store = new JsonlRunStore(join(home, 'runs'));
    for (const w of weird) {
      const run = await finished(ids[w]);
      expect(run.status, w).toBe('failed');
      expect(run.tasks.call.error.message, w).toMatch(expected[w]);
      const { events } = await store.read(ids[w]);
      const failed = events.find((e) => e.type === 'task.failed') as { error: { message: string } } | undefined;
      expect(failed?.error.message, w).toMatch(expected[w]);
      expect(events.at(-1)?.type, w).toBe('run.finished');
    }
    expect(await finished(good)).toMatchObject({ status: 'succeeded', output: 'fine' });
    expect(await finished(late)).toMatchObject({ status: 'succeeded', tasks: { call: { output: 'returned' } } });
    // The late throws come after the call returned: reported, and the server goes on.
    await new Promise((r) => setTimeout(r, 300));
    expect(stderr).toMatch(
      /braid serve: an error thrown outside any task \(.*\), ignored: late boom from a timer\n\s+at .*weird-tools\.mjs:\d+:\d+/,
    );
    expect(stderr).toMatch(
      /braid serve: a promise rejected outside any task .*: threw \[object Object\] without a message/,
    );
    expect(child.exitCode).toBeNull();
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
    expect(await finished(await start('good'))).toMatchObject({ status: 'succeeded' });
  }, 30_000);
});

describe('braid run with tools that throw anything', () => {
  for (const w of weird)
    it(`${w}: exits 1 with the message, no crash`, async () => {
      const r = await braid(['run', join(workflows, `${w}.yaml`), '--tools', tools], { env: { BRAID_HOME: home } });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr + r.stdout).toMatch(
        new RegExp(`call failed: ${expected[w].source.replace(/^\^/, '').replace(/\$$/, '')}`),
      );
      expect(r.stderr).not.toMatch(/node:internal|TypeError|\n\s+at /);
    });

  it('late: the run succeeds, the late throws are reported, the record is whole', async () => {
    const r = await braid(['run', join(workflows, 'late.yaml'), '--tools', tools, '--json'], {
      env: { BRAID_HOME: home },
    });
    expect(r.code, r.stderr).toBe(0);
    const { runId } = JSON.parse(r.stdout) as { runId: string };
    expect(r.stderr).toMatch(/braid run: an error thrown outside any task .*: late boom from a timer/);
    const { events } = await new JsonlRunStore(join(home, 'runs')).read(runId);
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', status: 'succeeded' });
  });
});
