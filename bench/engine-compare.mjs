// node --expose-gc bench/engine-compare.mjs <base bundle dir>: this build's engine beside another build's (e.g. the
// commit before a change: `git worktree add /tmp/base <commit> && (cd /tmp/base && npm run build)`, then pass
// /tmp/base/dist/bundle), side by side in one process, on the in-process workloads of `npm run bench` with the run
// store on: the three no-op DAG shapes (µs per task: what braid itself costs), the conditional seed shape, and a
// retrying shape. Interleaved rounds, medians; each build is checked to run the same tasks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const baseDir = process.argv[2];
if (!baseDir) {
  console.error('usage: node bench/engine-compare.mjs <base dist/bundle dir>');
  process.exit(2);
}
const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1500);
const builds = {
  base: await import(pathToFileURL(join(resolve(baseDir), 'index.js')).href),
  this: await import(new URL('../dist/bundle/index.js', import.meta.url).href),
};
const tmp = mkdtempSync(join(tmpdir(), 'braid-compare-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const layered = (width, depth) =>
  Array.from({ length: width * depth }, (_, k) => {
    const d = Math.floor(k / width);
    return { id: `l${d}_${k % width}`, deps: d ? Array.from({ length: width }, (_, w) => `l${d - 1}_${w}`) : [] };
  });
const fanout = (n) => [
  { id: 'src', deps: [] },
  ...Array.from({ length: n }, (_, i) => ({ id: `f${i}`, deps: ['src'] })),
  { id: 'sink', deps: Array.from({ length: n }, (_, i) => `f${i}`) },
];
const chain = (n) => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, deps: i ? [`c${i - 1}`] : [] }));
const plain = (tasks) => ({
  tasks: tasks.map((t) => ({ id: t.id, tool: 'work', input: {}, dependencies: t.deps })),
});
const conditional = () => {
  const tasks = [];
  for (let i = 0; i < 200; i++)
    tasks.push(
      { id: `idea${i}`, tool: 'work', input: {}, classify: { labels: ['good', 'bad'] } },
      { id: `draft${i}`, tool: 'work', input: {}, condition: { depends_on: `idea${i}`, if_result: 'good' } },
      { id: `retry${i}`, tool: 'work', input: {}, condition: { depends_on: `idea${i}`, if_result: 'bad' } },
      { id: `send${i}`, tool: 'work', input: {}, dependencies: [`draft${i}`, `retry${i}`] },
    );
  return { tasks };
};
const retrying = () => ({
  tasks: Array.from({ length: 200 }, (_, i) => ({ id: `r${i}`, tool: 'flaky', input: { key: i }, retries: 1 })),
});

const WORKLOADS = [
  ['layered 10x50 (500 no-op)', plain(layered(10, 50)), 500],
  ['fan-out 1000 no-op', plain(fanout(1000)), 1002],
  ['chain 300 no-op', plain(chain(300)), 300],
  ['conditional (200 × seed shape)', conditional(), 800],
  ['200 tasks failing once, retried', retrying(), 200],
];

const classifier = {
  classify: async ({ taskId, labels }) => ({ label: Number(taskId.slice(4)) % 2 ? labels[0] : labels[1] }),
};

async function prepare(build, spec, name) {
  const store = new build.JsonlRunStore(join(tmp, name));
  const { workflow } = await build.loadWorkflow(spec, { toolNames: ['work', 'flaky'] });
  return async () => {
    const seen = new Set();
    const tools = [
      { name: 'work', run: () => null },
      {
        name: 'flaky',
        run: ({ key }) => {
          if (seen.has(key)) return key;
          seen.add(key);
          throw new Error('once');
        },
      },
    ];
    const t0 = performance.now();
    const r = await build.runWorkflow(workflow, {
      tools,
      builtins: false,
      classifier,
      store,
      retry: { baseDelayMs: 0 },
    });
    const ms = performance.now() - t0;
    if (r.status !== 'succeeded') throw new Error(`${name}: ${r.status}`);
    const ran = Object.entries(r.tasks)
      .filter(([, t]) => t.status === 'succeeded')
      .map(([id]) => id)
      .sort()
      .join();
    return { ms, ran };
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| workload | tasks | base µs/task | this µs/task | base / this |`);
console.log(`|---|---:|---:|---:|---:|`);
for (const [name, spec, n] of WORKLOADS) {
  const runs = {};
  let expected;
  for (const [b, build] of Object.entries(builds)) {
    runs[b] = await prepare(build, spec, `${b}-${name.replace(/\W+/g, '-')}`);
    const first = await runs[b]();
    if (expected !== undefined && first.ran !== expected) throw new Error(`${name}: the builds ran different tasks`);
    expected = first.ran;
    const start = performance.now();
    while (performance.now() - start < WARMUP_MS) await runs[b]();
  }
  const times = { base: [], this: [] };
  for (let i = 0; i < REPEATS; i++) for (const b of Object.keys(builds)) times[b].push((await runs[b]()).ms);
  const base = (median(times.base) * 1000) / n;
  const mine = (median(times.this) * 1000) / n;
  console.log(`| ${name} | ${n} | ${base.toFixed(1)} | ${mine.toFixed(1)} | ${(base / mine).toFixed(2)} |`);
}
