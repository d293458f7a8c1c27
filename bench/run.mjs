// npm run bench: braid beside LangGraph.js, Mastra workflows, LlamaIndex workflow-core and a bare p-queue floor, on the
// same workloads, side by side in one process run. Every peer is checked to run the same set of tasks before it is
// timed (a mismatch exits 1). Sections: in process (store on), the CLI path (`braid run --json` with its record and
// plain progress lines), scaling and memory up to 100k tasks, start-up against `node -e 0`, and an LLM-bound
// workload against a loopback OpenAI-compatible server. Prints the tables and writes them to bench/last-run.md
// (bench/RESULTS.md is the write-up across runs). Wall-clock numbers live here, never in `npm test`.
//
// How each peer expresses a workload (none but braid and LangGraph take an arbitrary DAG):
// - LangGraph.js: StateGraph, one node per task, `addEdge([deps], node)` joins (superstep barriers).
// - Mastra (@mastra/core workflows): `.then()` for a chain, `.parallel([...])` for a layer (layered: one parallel
//   block per layer, which is exactly its dependencies), the uneven chains as three nested workflows in one
//   `.parallel()`, the 40 × 20 ms as `.foreach(step, { concurrency: 8 })`.
// - LlamaIndex (@llamaindex/workflow-core): events and handlers; a task start and a task end are events, one handler
//   runs the task, another counts in-degrees (the join, in user code: the library has no DAG) and sends the ready ones.
// - bare p-queue: an in-degree scheduler on p-queue with no features, the floor any scheduler on Node timers reaches.
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotation, StateGraph, START, END } from '@langchain/langgraph';
import { createStep, createWorkflow as mastraWorkflow } from '@mastra/core/workflows';
import { createWorkflow as llamaWorkflow, workflowEvent } from '@llamaindex/workflow-core';
import OpenAI from 'openai';
import PQueue from 'p-queue';
import { z } from 'zod';
import { JsonlRunStore, OpenAIProvider, buffered, loadWorkflow, runWorkflow } from '../dist/bundle/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'braid-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
// The run store is on, as in `braid run`: every event goes to a group-committed, fsync'd JSONL record.
const store = new JsonlRunStore(join(tmp, 'runs'));

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);
const CLI_ROUNDS = Number(process.env.BENCH_CLI_ROUNDS ?? 2);
const ONLY = process.env.BENCH_ONLY?.split(','); // sections: inproc,cli,scaling,startup,llm,distributed
const want = (section) => !ONLY || ONLY.includes(section);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadAtStart = loadavg();

// ---- workloads: { name, tasks: [{ id, deps, ms }], concurrency?, bound, shape } ----------------------------
function layered(width, depth) {
  const tasks = [];
  for (let d = 0; d < depth; d++)
    for (let w = 0; w < width; w++)
      tasks.push({
        id: `l${d}_${w}`,
        deps: d === 0 ? [] : Array.from({ length: width }, (_, k) => `l${d - 1}_${k}`),
        ms: 0,
      });
  return tasks;
}
const fanout = (n) => [
  { id: 'src', deps: [], ms: 0 },
  ...Array.from({ length: n }, (_, i) => ({ id: `f${i}`, deps: ['src'], ms: 0 })),
  { id: 'sink', deps: Array.from({ length: n }, (_, i) => `f${i}`), ms: 0 },
];
const chain = (n) => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, deps: i ? [`c${i - 1}`] : [], ms: 0 }));
const uneven = () => [
  { id: 'a1', deps: [], ms: 100 },
  { id: 'a2', deps: ['a1'], ms: 10 },
  { id: 'b1', deps: [], ms: 10 },
  { id: 'b2', deps: ['b1'], ms: 100 },
  { id: 'c1', deps: [], ms: 55 },
  { id: 'c2', deps: ['c1'], ms: 55 },
  { id: 'join', deps: ['a2', 'b2', 'c2'], ms: 0 },
];
const capacity = () => [
  ...Array.from({ length: 40 }, (_, i) => ({ id: `w${i}`, deps: [], ms: 20 })),
  { id: 'merge', deps: Array.from({ length: 40 }, (_, i) => `w${i}`), ms: 0 },
];

const WORKLOADS = [
  { name: 'layered 10x50 (500 no-op)', tasks: layered(10, 50), bound: 0, shape: 'layers' },
  { name: 'fan-out 1000 no-op', tasks: fanout(1000), bound: 0, shape: 'layers' },
  { name: 'chain 300 no-op', tasks: chain(300), bound: 0, shape: 'layers' },
  { name: 'uneven chains', tasks: uneven(), bound: 110, shape: 'chains' },
  { name: '40x20ms, concurrency 8', tasks: capacity(), concurrency: 8, bound: 100, shape: 'foreach' },
];
const specOf = (w) => ({
  name: w.name,
  tasks: w.tasks.map((t) => ({ id: t.id, tool: 'work', input: { ms: t.ms }, dependencies: t.deps })),
});

// ---- braid, in process ------------------------------------------------------------------------------
const work = { name: 'work', run: ({ ms }) => (ms ? sleep(ms).then(() => null) : null) };

async function prepareBraid(w, extraListener) {
  // Validated before the clock starts, as LangGraph's graph is built and compiled before its clock starts.
  const { workflow } = await loadWorkflow(specOf(w), { toolNames: ['work'] });
  return async () => {
    let events = 0;
    const t0 = performance.now();
    const result = await runWorkflow(workflow, {
      tools: [work],
      builtins: false,
      concurrency: w.concurrency,
      onEvent: [() => void events++, ...(extraListener ? [extraListener] : [])],
      classifier: null,
      store,
    });
    const ms = performance.now() - t0;
    if (result.status !== 'succeeded') throw new Error(`braid ${w.name}: ${result.status}`);
    const ran = new Set(
      Object.entries(result.tasks)
        .filter(([, t]) => t.status === 'succeeded')
        .map(([id]) => id),
    );
    return { ms, ran, events };
  };
}

// ---- LangGraph: StateGraph, addEdge([deps], node) joins ---------------------------------------------
function limiter(limit = Infinity) {
  let running = 0;
  const waiters = [];
  return async (fn) => {
    while (running >= limit) await new Promise((r) => waiters.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiters.shift()?.();
    }
  };
}

function prepareLangGraph(w) {
  const State = Annotation.Root({ ran: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }) });
  const g = new StateGraph(State);
  const limited = limiter(w.concurrency);
  for (const t of w.tasks)
    g.addNode(t.id, async () => {
      if (t.ms) await limited(() => sleep(t.ms));
      return { ran: [t.id] };
    });
  for (const t of w.tasks) {
    if (t.deps.length === 0) g.addEdge(START, t.id);
    else if (t.deps.length === 1) g.addEdge(t.deps[0], t.id);
    else g.addEdge(t.deps, t.id);
  }
  const hasDown = new Set(w.tasks.flatMap((t) => t.deps));
  for (const t of w.tasks) if (!hasDown.has(t.id)) g.addEdge(t.id, END);
  const app = g.compile();
  return async () => {
    const t0 = performance.now();
    const out = await app.invoke({ ran: [] }, { recursionLimit: 100_000 });
    return { ms: performance.now() - t0, ran: new Set(out.ran) };
  };
}

// ---- Mastra workflows: .then / .parallel / nested workflows / .foreach -----------------------------------
let mastraIds = 0;
function prepareMastra(w) {
  const byId = new Map(w.tasks.map((t) => [t.id, t]));
  let ran;
  const any = z.any();
  const step = (t) =>
    createStep({
      id: t.id,
      inputSchema: any,
      outputSchema: any,
      execute: async () => {
        if (t.ms) await sleep(t.ms);
        ran.push(t.id);
        return null;
      },
    });
  const flow = (id) => mastraWorkflow({ id: `${id}-${mastraIds++}`, inputSchema: any, outputSchema: any });
  let wf = flow(w.name);
  let inputData = {};
  if (w.shape === 'layers') {
    // Tasks grouped by depth: every task of a layer depends on (all of) the layer before, in these workloads.
    const depth = new Map();
    for (const t of w.tasks) depth.set(t.id, t.deps.length ? 1 + Math.max(...t.deps.map((d) => depth.get(d))) : 0);
    const layers = [];
    for (const t of w.tasks) (layers[depth.get(t.id)] ??= []).push(t);
    for (const layer of layers) wf = layer.length === 1 ? wf.then(step(layer[0])) : wf.parallel(layer.map(step));
  } else if (w.shape === 'chains') {
    const chains = w.tasks
      .filter((t) => t.deps.length === 0)
      .map((first) => {
        const second = w.tasks.find((t) => t.deps.length === 1 && t.deps[0] === first.id);
        return flow(first.id).then(step(first)).then(step(second)).commit();
      });
    const join = w.tasks.find((t) => t.deps.length > 1);
    wf = wf.parallel(chains).then(step(join));
  } else {
    const each = w.tasks.filter((t) => t.deps.length === 0);
    const merge = w.tasks.find((t) => t.deps.length > 0);
    const item = createStep({
      id: 'item',
      inputSchema: any,
      outputSchema: any,
      execute: async ({ inputData: id }) => {
        await sleep(byId.get(id).ms);
        ran.push(id);
        return null;
      },
    });
    wf = wf.foreach(item, { concurrency: w.concurrency }).then(step(merge));
    inputData = each.map((t) => t.id);
  }
  const committed = wf.commit();
  return async () => {
    ran = [];
    const run = await committed.createRunAsync();
    const t0 = performance.now();
    const out = await run.start({ inputData });
    const ms = performance.now() - t0;
    if (out.status !== 'success') throw new Error(`Mastra ${w.name}: ${out.status}`);
    return { ms, ran: new Set(ran) };
  };
}

// ---- LlamaIndex workflow-core: task and done events, the join counted in a handler ------------------------
function prepareLlama(w) {
  const start = workflowEvent();
  const task = workflowEvent();
  const done = workflowEvent();
  const stop = workflowEvent();
  const down = new Map(w.tasks.map((t) => [t.id, []]));
  for (const t of w.tasks) for (const d of t.deps) down.get(d).push(t);
  const limited = limiter(w.concurrency);
  let waiting, left, ran;
  const flow = llamaWorkflow();
  flow.handle([start], (ctx) => {
    for (const t of w.tasks) if (t.deps.length === 0) ctx.sendEvent(task.with(t));
  });
  flow.handle([task], async (ctx, ev) => {
    const t = ev.data;
    if (t.ms) await limited(() => sleep(t.ms));
    ran.push(t.id);
    return done.with(t);
  });
  flow.handle([done], (ctx, ev) => {
    if (--left === 0) return stop.with(null);
    for (const d of down.get(ev.data.id)) {
      const n = waiting.get(d.id) - 1;
      waiting.set(d.id, n);
      if (n === 0) ctx.sendEvent(task.with(d));
    }
  });
  return async () => {
    waiting = new Map(w.tasks.map((t) => [t.id, t.deps.length]));
    left = w.tasks.length;
    ran = [];
    const { stream, sendEvent } = flow.createContext();
    const t0 = performance.now();
    sendEvent(start.with(null));
    await stream.until(stop).toArray();
    return { ms: performance.now() - t0, ran: new Set(ran) };
  };
}

// ---- the floor: a bare p-queue in-degree scheduler (no validation, events, store or features) ----------
function prepareBare(w) {
  return async () => {
    const down = new Map(w.tasks.map((t) => [t.id, []]));
    const waiting = new Map(w.tasks.map((t) => [t.id, t.deps.length]));
    for (const t of w.tasks) for (const d of t.deps) down.get(d).push(t);
    const queue = new PQueue({ concurrency: w.concurrency ?? Infinity });
    const ran = new Set();
    const t0 = performance.now();
    await new Promise((resolve) => {
      let left = w.tasks.length;
      const start = (t) =>
        queue
          .add(() => (t.ms ? sleep(t.ms) : null))
          .then(() => {
            ran.add(t.id);
            if (--left === 0) resolve();
            for (const d of down.get(t.id)) if (waiting.set(d.id, waiting.get(d.id) - 1).get(d.id) === 0) start(d);
          });
      for (const t of w.tasks) if (t.deps.length === 0) start(t);
    });
    return { ms: performance.now() - t0, ran };
  };
}

// ---- measuring ------------------------------------------------------------------------------------
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sameSet = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));

/**
 * Engines side by side: each is checked against the first (same set of tasks run), warmed up (at least WARMUP runs
 * and WARMUP_MS each, so V8 has optimized the hot paths), then timed in interleaved rounds (one run of each engine
 * per round), so a load spike on this shared machine hits all of them alike. Median per engine. (No forced GC before a
 * timed run: after one V8 shrinks its young generation and a no-op run of 300 tasks measured 2-3x slower.)
 */
async function sideBySide(name, engines, repeats = REPEATS) {
  const entries = Object.entries(engines);
  let expected;
  for (const [engine, run] of entries) {
    const first = await run();
    if (!expected) expected = first.ran;
    else if (!sameSet(expected, first.ran)) {
      console.error(`MISMATCH on ${name}: ${entries[0][0]} ran ${expected.size} tasks, ${engine} ${first.ran.size}`);
      process.exit(1);
    }
    const start = performance.now();
    for (let i = 1; i < WARMUP || performance.now() - start < WARMUP_MS; i++) await run();
  }
  const times = Object.fromEntries(entries.map(([e]) => [e, []]));
  for (let i = 0; i < repeats; i++) for (const [engine, run] of entries) times[engine].push((await run()).ms);
  return Object.fromEntries(entries.map(([e]) => [e, median(times[e])]));
}

const fmt = (x, d = 1) => (x === undefined ? '-' : x.toFixed(d));
const out = [];
const say = (line = '') => (out.push(line), console.error(line));
const v = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

say('# Benchmark: last run');
say();
say(
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}.`,
);
say(
  `braid ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}, @langchain/langgraph ${v('@langchain/langgraph')}, @mastra/core ${v('@mastra/core')}, @llamaindex/workflow-core ${v('@llamaindex/workflow-core')}, p-queue ${v('p-queue')}, openai ${v('openai')}. Median of ${REPEATS} interleaved rounds after a warm-up of at least ${WARMUP} runs and ${WARMUP_MS} ms per engine and workload; every engine checked to run the same tasks first.`,
);

// ---- 1. in process --------------------------------------------------------------------------------
const inproc = {};
if (want('inproc')) {
  say();
  say('## In process (braid: validated before the clock, every event recorded, run store on)');
  say();
  say(
    '| workload | tasks | braid ms | LangGraph ms | Mastra ms | LlamaIndex ms | bare p-queue ms | bound ms | braid µs/task | LangGraph / braid | Mastra / braid | LlamaIndex / braid |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of WORKLOADS) {
    const m = await sideBySide(w.name, {
      braid: await prepareBraid(w),
      LangGraph: prepareLangGraph(w),
      Mastra: prepareMastra(w),
      LlamaIndex: prepareLlama(w),
      bare: prepareBare(w),
    });
    inproc[w.name] = m;
    const per = ((m.braid - w.bound) * 1000) / w.tasks.length;
    say(
      `| ${w.name} | ${w.tasks.length} | ${fmt(m.braid)} | ${fmt(m.LangGraph)} | ${fmt(m.Mastra)} | ${fmt(m.LlamaIndex)} | ${fmt(m.bare)} | ${w.bound} | ${w.bound ? '-' : fmt(per)} | ${fmt(m.LangGraph / m.braid)} | ${fmt(m.Mastra / m.braid)} | ${fmt(m.LlamaIndex / m.braid)} |`,
    );
  }
}

if (want('inproc')) {
  // Conditional: the seed's branch + skip + join shape repeated 200 times, instant classifier (braid only).
  const tasks = [];
  for (let i = 0; i < 200; i++)
    tasks.push(
      { id: `idea${i}`, tool: 'work', input: { ms: 0 }, classify: { labels: ['good', 'bad'] } },
      { id: `draft${i}`, tool: 'work', input: { ms: 0 }, condition: { depends_on: `idea${i}`, if_result: 'good' } },
      { id: `retry${i}`, tool: 'work', input: { ms: 0 }, condition: { depends_on: `idea${i}`, if_result: 'bad' } },
      { id: `send${i}`, tool: 'work', input: { ms: 0 }, dependencies: [`draft${i}`, `retry${i}`] },
    );
  const classifier = {
    classify: async ({ taskId, labels }) => ({ label: Number(taskId.slice(4)) % 2 ? labels[0] : labels[1] }),
  };
  const { workflow } = await loadWorkflow({ tasks }, { toolNames: ['work'] });
  const cond = await sideBySide('conditional', {
    braid: async () => {
      const t0 = performance.now();
      const r = await runWorkflow(workflow, { tools: [work], builtins: false, classifier, store });
      const ms = performance.now() - t0;
      const skipped = Object.values(r.tasks).filter((t) => t.status === 'skipped').length;
      if (r.status !== 'succeeded' || skipped !== 200) throw new Error(`conditional: ${r.status}, ${skipped} skipped`);
      return { ms, ran: new Set() };
    },
  });
  say();
  say(
    `Conditional (seed shape × 200 = 800 tasks, branch + skip + join, instant classifier): braid ${fmt(cond.braid)} ms (${fmt((cond.braid * 1000) / 800)} µs/task).`,
  );
  // A slow subscriber (0.2 ms of CPU per event) behind `buffered`: tasks must still start on time.
  const busy = (ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const slow = await sideBySide('slow subscriber', {
    braid: await prepareBraid(
      WORKLOADS[3],
      buffered((batch) => batch.forEach(() => busy(0.2))),
    ),
  });
  say(
    `Slow subscriber (0.2 ms of CPU per event, behind \`buffered\`) on the uneven chains: ${fmt(slow.braid)} ms (bound 110, target ≤ ${fmt(110 * 1.01 + 1)}).`,
  );
}

// ---- 2. the CLI path --------------------------------------------------------------------------------
/** `braid run <file> --json` timed inside a CLI process (bench/cli-child.mjs): medians of its repeats. */
function cliTimes(file, extra = []) {
  return new Promise((resolve, reject) => {
    const child = fork(
      join(root, 'bench', 'cli-child.mjs'),
      [file, String(WARMUP), String(REPEATS), String(WARMUP_MS), ...extra],
      {
        cwd: tmp,
        env: { ...process.env, BRAID_HOME: join(tmp, 'cli-home'), OPENAI_API_KEY: '' },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    child.stdout.resume(); // the JSON results: a pipe, read and dropped
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000))); // the plain progress lines
    child.on('message', (m) => resolve(m));
    child.on('exit', (code) => code && reject(new Error(`cli-child exited ${code}: ${err}`)));
  });
}

/** One cold `braid run --json` process: its result, to check it ran the same tasks. */
function cliOnce(file, extra = []) {
  const t0 = performance.now();
  const p = spawnSync(
    process.execPath,
    [join(root, 'bin', 'braid.mjs'), 'run', file, '--json', '--tools', join(root, 'bench', 'work-tool.mjs'), ...extra],
    { cwd: tmp, env: { ...process.env, BRAID_HOME: join(tmp, 'cli-home'), OPENAI_API_KEY: '' }, encoding: 'utf8' },
  );
  const ms = performance.now() - t0;
  if (p.status !== 0) throw new Error(`braid run ${file}: exit ${p.status}: ${p.stderr.slice(-2000)}`);
  const result = JSON.parse(p.stdout);
  return {
    ms,
    ran: new Set(
      Object.entries(result.tasks)
        .filter(([, t]) => t.status === 'succeeded')
        .map(([id]) => id),
    ),
  };
}

if (want('cli')) {
  say();
  say(
    '## The CLI path (`braid run <file> --json --tools bench/work-tool.mjs`: commander, reading and validating the file, the run store, plain progress lines on stderr, the JSON result on stdout, the last fsync; timed around `main()` inside a warm CLI process; LangGraph in process, in batches alternating with the CLI batches)',
  );
  say();
  say(
    '| workload | tasks | braid CLI ms | braid CLI µs/task | LangGraph ms | LangGraph / braid CLI | bound ms | braid CLI - bound ms | cold process ms |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of WORKLOADS) {
    const file = join(tmp, `${w.name.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(specOf(w)));
    const extra = w.concurrency ? ['--concurrency', String(w.concurrency)] : [];
    const cold = cliOnce(file, extra);
    if (!sameSet(cold.ran, new Set(w.tasks.map((t) => t.id)))) {
      console.error(`MISMATCH on ${w.name} through the CLI: ran ${cold.ran.size} of ${w.tasks.length}`);
      process.exit(1);
    }
    // Side by side: batches of CLI runs and of LangGraph runs alternate, so both see the same machine load.
    const langGraph = prepareLangGraph(w);
    await langGraph(); // warm
    const cli = [];
    const lgTimes = [];
    for (let round = 0; round < CLI_ROUNDS; round++) {
      cli.push(...(await cliTimes(file, extra)).times);
      for (let i = 0; i < REPEATS; i++) lgTimes.push((await langGraph()).ms);
    }
    const ms = median(cli);
    const lg = median(lgTimes);
    say(
      `| ${w.name} | ${w.tasks.length} | ${fmt(ms)} | ${w.bound ? '-' : fmt((ms * 1000) / w.tasks.length)} | ${fmt(lg)} | ${fmt(lg / ms)} | ${w.bound} | ${w.bound ? fmt(ms - w.bound, 2) : '-'} | ${fmt(cold.ms, 0)} |`,
    );
  }
}

// ---- 3. scaling and memory --------------------------------------------------------------------------
if (want('scaling')) {
  say();
  say(
    '## Scaling and memory (braid, layered 10 wide, store on, no listener; live = heap still reachable when the run has returned, after a full GC, with its result; peak = sampled heap growth during the run)',
  );
  say();
  say('| tasks | ms | µs/task | live KiB/task | peak growth KiB/task |');
  say('|---:|---:|---:|---:|---:|');
  for (const n of [1000, 10_000, 100_000]) {
    const w = { name: `layered ${n}`, tasks: layered(10, n / 10), bound: 0 };
    const { workflow } = await loadWorkflow(specOf(w), { toolNames: ['work'] });
    const run = () => runWorkflow(workflow, { tools: [work], builtins: false, classifier: null, store });
    if (n < 100_000) await run(); // warm (the 100k run is warm from the smaller ones)
    await store.idle();
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const t0 = performance.now();
    const result = await run();
    const ms = performance.now() - t0;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    await store.idle();
    global.gc?.();
    const live = process.memoryUsage().heapUsed - before;
    if (result.status !== 'succeeded') throw new Error(`scaling ${n}: ${result.status}`);
    say(
      `| ${n} | ${fmt(ms)} | ${fmt((ms * 1000) / n)} | ${fmt(live / n / 1024, 2)} | ${fmt((peak - before) / n / 1024, 2)} |`,
    );
  }
  // the 1 KB target, measured where nothing else ran before: a fresh process, one run (bench/memory.mjs)
  const fresh = spawnSync(process.execPath, ['--expose-gc', join(root, 'bench', 'memory.mjs'), '100000'], {
    encoding: 'utf8',
  });
  if (fresh.status !== 0) throw new Error(`bench/memory.mjs: ${fresh.stderr}`);
  const { liveBytesPerTask, withValidatedWorkflow } = JSON.parse(fresh.stdout);
  say();
  say(
    `A fresh process, one 100k-task run (bench/memory.mjs): **${liveBytesPerTask} B live per task** (the compiled plan and the result; ${withValidatedWorkflow} B counting the validated copy of the workflow, the caller's input).`,
  );
}

// ---- 4. start-up ------------------------------------------------------------------------------------
if (want('startup')) {
  const light = join(tmp, 'light.json');
  writeFileSync(
    light,
    JSON.stringify({
      name: 'light',
      tasks: [
        { id: 'a', tool: 'echo', input: { value: 'hello' } },
        { id: 'b', tool: 'echo', input: { value: '{{ tasks.a.output }}' }, dependencies: ['a'] },
      ],
    }),
  );
  const bin = join(root, 'bin', 'braid.mjs');
  // calculate's snapshot (tools/calculate.ts) lives in a cache folder of the bench's own; a folder under a file
  // cannot be made, so the last command always starts calculate's process the slow way (loading mathjs)
  const cache = join(tmp, 'startup-cache');
  const noCache = join(light, 'no-cache');
  const parallel = join(root, 'examples', 'parallel.yaml');
  const cmds = {
    'node -e 0': { args: ['-e', '0'] },
    'braid --version': { args: [bin, '--version'] },
    'braid run (2 echo tasks, JSON)': { args: [bin, 'run', light, '--json', '-q'] },
    'braid run examples/parallel.yaml': { args: [bin, 'run', parallel, '--json', '-q'] },
    'braid run examples/parallel.yaml, no snapshot': { args: [bin, 'run', parallel, '--json', '-q'], cache: noCache },
  };
  const times = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  const firstCalc = { snapshot: [], 'no snapshot': [] };
  for (let i = 0; i < Math.max(REPEATS, 5) + 1; i++) {
    for (const [k, { args, cache: dir = cache }] of Object.entries(cmds)) {
      const t0 = performance.now();
      const p = spawnSync(process.execPath, args, {
        cwd: tmp,
        env: { ...process.env, BRAID_HOME: join(tmp, 'startup-home'), BRAID_CACHE_DIR: dir, OPENAI_API_KEY: '' },
        encoding: 'utf8',
      });
      const ms = performance.now() - t0;
      if (p.status !== 0) throw new Error(`${k}: exit ${p.status}: ${p.stderr}`);
      if (i === 0) continue; // the first round warms the file system cache
      times[k].push(ms);
      if (k.includes('parallel'))
        firstCalc[dir === cache ? 'snapshot' : 'no snapshot'].push(JSON.parse(p.stdout).tasks.calculate.history[0]);
    }
    // the first round's calculate started building the snapshot in the background: wait for it
    const built = () => existsSync(cache) && readdirSync(cache).some((f) => f.endsWith('.blob'));
    for (const end = Date.now() + 60_000; i === 0 && !built();) {
      if (Date.now() > end) throw new Error("calculate's snapshot was not built within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const node0 = median(times['node -e 0']);
  say();
  say(
    `## Start-up (a fresh process each, ${times['node -e 0'].length} interleaved rounds after one to warm the file cache; ms)`,
  );
  say();
  say('| command | median ms | min ms | max ms | median - node -e 0 |');
  say('|---|---:|---:|---:|---:|');
  for (const [k, xs] of Object.entries(times))
    say(
      `| ${k} | ${fmt(median(xs), 0)} | ${fmt(Math.min(...xs), 0)} | ${fmt(Math.max(...xs), 0)} | ${fmt(median(xs) - node0, 0)} |`,
    );
  say();
  say(
    `\`braid run\` of the light workflow: ${fmt(median(times['braid run (2 echo tasks, JSON)']) / node0, 2)}× \`node -e 0\`.`,
  );
  for (const [how, history] of Object.entries(firstCalc)) {
    const calcMs = history.map((h) => Date.parse(h.endedAt) - Date.parse(h.startedAt));
    say(
      `First \`calculate\` of a run, ${how} (examples/parallel.yaml; its process is started when the run starts): median ${fmt(median(calcMs), 0)} ms from the attempt's start to its end (range ${Math.min(...calcMs)}–${Math.max(...calcMs)}).`,
    );
  }
}

// ---- 5. LLM-bound -------------------------------------------------------------------------------------
if (want('llm')) {
  const LATENCY = 30;
  const CALLS = 50;
  const LIMIT = 10;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () =>
      setTimeout(() => {
        const ask = JSON.parse(body).messages.at(-1).content;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            id: 'chatcmpl-bench',
            object: 'chat.completion',
            created: 0,
            model: 'bench-model',
            choices: [{ index: 0, message: { role: 'assistant', content: `answer to ${ask}` }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
      }, LATENCY),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const baseURL = `http://127.0.0.1:${server.address().port}/v1`;
  const questions = Array.from({ length: CALLS }, (_, i) => `question ${i}`);

  // The floor: the bare openai client under a concurrency limit (p-queue).
  const client = new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0 });
  const floor = async () => {
    const queue = new PQueue({ concurrency: LIMIT });
    const t0 = performance.now();
    const answers = await Promise.all(
      questions.map((q) =>
        queue.add(() =>
          client.chat.completions.create({ model: 'bench-model', messages: [{ role: 'user', content: q }] }),
        ),
      ),
    );
    const ms = performance.now() - t0;
    return { ms, ran: new Set(answers.map((a) => a.choices[0].message.content)) };
  };

  // braid: 50 independent tasks whose tool asks the model; the provider allows LIMIT requests in flight.
  const llm = new OpenAIProvider({ apiKey: 'bench', baseURL, model: 'bench-model', concurrency: LIMIT });
  const ask = {
    name: 'ask',
    run: async ({ question }, ctx) =>
      (await ctx.llm.generate({ messages: [{ role: 'user', content: question }] })).text,
  };
  const { workflow } = await loadWorkflow(
    { name: 'llm-bound', tasks: questions.map((q, i) => ({ id: `q${i}`, tool: 'ask', input: { question: q } })) },
    { toolNames: ['ask'] },
  );
  const braid = async () => {
    const t0 = performance.now();
    const r = await runWorkflow(workflow, { tools: [ask], builtins: false, classifier: null, llm, store });
    const ms = performance.now() - t0;
    if (r.status !== 'succeeded') throw new Error(`llm-bound: ${r.status}`);
    return { ms, ran: new Set(Object.values(r.tasks).map((t) => t.output)) };
  };
  const m = await sideBySide('LLM-bound', { floor, braid }, Math.max(REPEATS, 15));
  server.close();
  say();
  say(
    `## LLM-bound (${CALLS} calls, at most ${LIMIT} in flight, loopback OpenAI-compatible server answering in ${LATENCY} ms; bound ${(CALLS / LIMIT) * LATENCY} ms)`,
  );
  say();
  say('| engine | ms | / floor |');
  say('|---|---:|---:|');
  say(`| bare \`openai\` client + p-queue (floor) | ${fmt(m.floor)} | 1.000 |`);
  say(`| braid (store on, an \`llm.call\` event per call) | ${fmt(m.braid)} | ${fmt(m.braid / m.floor, 3)} |`);
}

// The distributed path (docs/scaling-out.md): BullMQ workers against raw BullMQ on one redis-server.
if (want('distributed')) {
  say();
  say(await (await import('./distributed.mjs')).benchDistributed());
}

say();
say(
  `Load average at the end: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}.`,
);
writeFileSync(join(root, 'bench', 'last-run.md'), `${out.join('\n')}\n`);
console.log(out.join('\n'));
