/**
 * `calculate`: mathjs with units, in a separate process that braid can bound and kill.
 *
 * - Bounded: evaluation runs in a child process (Node with a 256 MB heap). A calculation past its deadline
 *   (the task's `timeout_ms`, else {@link CALCULATE_LIMITS}.timeoutMs, counted from when the call was made:
 *   time waiting for the process counts) is killed, and so is one that runs out of memory: either way the
 *   task fails and the next call gets a fresh process. A worker thread
 *   with `resourceLimits` is not enough here: a single large allocation past the limit (`range(1, 1e9)`)
 *   aborts the whole process, not just the worker.
 * - Sized: functions that build matrices from a requested size (`ones`, `zeros`, `range`, `identity`, ...)
 *   refuse more than `maxElements` elements before allocating; results over `maxResultElements` elements or
 *   `maxResultChars` characters fail with a clear error.
 * - Fair: each run (caller) has its own process, up to {@link CALCULATE_LIMITS}.processes at once, so one run's
 *   slow expressions (calls of one process run one at a time) never hold up another run's `2+1`. Past that
 *   many runs calculating at once, a new one shares the process with the fewest calls waiting. When a run's
 *   calls are done its process is kept for the next run (one spare; others are stopped).
 * - Stateless: every function that changes the instance (`config`, `import`, `createUnit`) or evaluates
 *   code (`evaluate`, `parse`, `compile`, `simplify`, ...) is disabled, and each call has a fresh scope, so
 *   nothing carries over from one calculation (or run) to the next.
 * - Not slow to start: the child starts from a V8 start-up snapshot of a process that has loaded mathjs and
 *   built its unit tables (`src/core/child-snapshot.ts`: built once per machine in the background, in the
 *   user's cache folder), so it is ready as soon as Node is; without one yet it loads mathjs's single-file bundle
 *   (~0.4 s). It is started when a run that uses `calculate` starts (`warm`); the main process never loads mathjs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { z } from 'zod';
import { childArgs, discardSnapshot, snapshotFor, type ChildScript } from '../src/core/child-snapshot.js';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { resolveOptional } from '../src/core/optional.js';

export const CALCULATE_LIMITS = {
  timeoutMs: 5000,
  heapMb: 256,
  maxElements: 1_000_000,
  maxResultElements: 100_000,
  maxResultChars: 100_000,
  processes: 4,
} as const;

/** The child's setup: loads mathjs, disables what changes state, warms up (this is what a snapshot keeps). */
const SETUP = String.raw`
const mathjs = { exports: {} };
new Function('module', 'exports', require('node:fs').readFileSync(mathjsPath, 'utf8'))(mathjs, mathjs.exports);
const { create, all } = mathjs.exports;
const math = create(all);
const evaluate = math.evaluate.bind(math);
const format = math.format.bind(math);
const size = math.size.bind(math);
const isMatrix = math.isMatrix;
const toNumber = (v) => (typeof v === 'number' ? v : v && typeof v.toNumber === 'function' ? v.toNumber() : Number(v));
const dims = (args) => {
  const out = [];
  for (const a of args) {
    if (typeof a === 'string') continue; // a storage format ('dense', 'sparse')
    if (Array.isArray(a) || isMatrix(a)) out.push(...(isMatrix(a) ? a.toArray() : a).flat(Infinity).map(toNumber));
    else out.push(toNumber(a));
  }
  return out;
};
const product = (ns) => ns.reduce((p, n) => p * Math.max(0, Math.abs(n)), 1);
const countOf = (v) => (Array.isArray(v) || isMatrix(v) ? product(size(v).valueOf().map(toNumber)) : 1);
const refuse = (name, n) => {
  throw new Error(name + ' would make ' + n + ' elements, more than ' + limits.maxElements);
};
const guarded = (name, elements) => {
  const original = math[name];
  return function (...args) {
    const n = elements(...args);
    if (!(n <= limits.maxElements)) refuse(name, n);
    return original.apply(this, args);
  };
};
const rangeCount = (...args) => {
  if (typeof args[0] === 'string') {
    const parts = args[0].split(':').map(Number);
    const [start, step, end] = parts.length === 3 ? parts : [parts[0], 1, parts[1]];
    return Math.abs((end - start) / (step || 1));
  }
  const [start, end, step] = args.map((a) => (typeof a === 'boolean' ? 1 : toNumber(a)));
  return Math.abs((end - start) / (step || 1));
};
const disabled = (name) => () => {
  throw new Error('function ' + name + ' is disabled in calculate');
};
math.import(
  {
    ...Object.fromEntries(['import', 'createUnit', 'evaluate', 'parse', 'simplify', 'simplifyConstant', 'simplifyCore', 'rationalize', 'derivative', 'resolve', 'reviver', 'replacer', 'compile', 'config', 'parser', 'help'].map((n) => [n, disabled(n)])),
    ones: guarded('ones', (...a) => product(dims(a))),
    zeros: guarded('zeros', (...a) => product(dims(a))),
    identity: guarded('identity', (...a) => { const d = dims(a); return d.length === 1 ? d[0] * d[0] : product(d); }),
    random: guarded('random', (...a) => (Array.isArray(a[0]) || isMatrix(a[0]) ? product(dims([a[0]])) : 1)),
    randomInt: guarded('randomInt', (...a) => (Array.isArray(a[0]) || isMatrix(a[0]) ? product(dims([a[0]])) : 1)),
    pickRandom: guarded('pickRandom', (...a) => (typeof a[1] === 'number' ? a[1] : 1)),
    range: guarded('range', rangeCount),
    resize: guarded('resize', (x, s) => product(dims([s]))),
    reshape: guarded('reshape', (x, s) => product(dims([s]))),
    kron: guarded('kron', (x, y) => countOf(x) * countOf(y)),
    diag: guarded('diag', (x) => countOf(x) * countOf(x)),
  },
  { override: true },
);
evaluate('1 km / 2 h to m/s'); // compile the common paths now, not on the first call
`;

/** The child's main: answers `{ id, expression }` messages. */
const MAIN = String.raw`(from) => {
process.on('disconnect', () => process.exit(0));
process.on('message', ({ id, expression }) => {
  let reply;
  try {
    const value = evaluate(expression, new Map());
    if (typeof value === 'function' || value === undefined) throw new Error('"' + expression + '" is not a value');
    const n = countOf(value);
    if (n > limits.maxResultElements) throw new Error('the result has ' + n + ' elements, more than ' + limits.maxResultElements);
    const text = format(value, { precision: 10 });
    if (text.length > limits.maxResultChars) throw new Error('the result is ' + text.length + ' characters long, more than ' + limits.maxResultChars);
    reply = { id, result: (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' ? value : text, text };
  } catch (err) {
    reply = { id, error: String((err && err.message) || err) };
  }
  process.send(reply);
});
process.send({ ready: true, from });
}`;

/** mathjs's single-file bundle (~0.1 s to load, against ~1 s for its tree of CommonJS modules) and the limits. */
function childScript(): ChildScript {
  const mathjsPath = resolveOptional('calculate', 'mathjs/lib/browser/math.js');
  const head = `const mathjsPath = ${JSON.stringify(mathjsPath)};\nconst limits = ${JSON.stringify(CALCULATE_LIMITS)};\n`;
  return {
    name: 'calculate',
    flags: [`--max-old-space-size=${CALCULATE_LIMITS.heapMb}`],
    setup: head + SETUP,
    main: MAIN,
  };
}

type Reply = { id: number; result: number | string | boolean; text: string } | { id: number; error: string };

/** One calculation process, started on demand and replaced when it is killed. */
class Calculator {
  readonly #timeoutMs: number;
  #closed = false;
  #child?: ChildProcess;
  #ready?: Promise<ChildProcess>;
  /** How the current process started: from a snapshot of a warmed-up mathjs, or loading it. */
  startedFrom?: 'snapshot' | 'script';
  /** A call is waiting: the process keeps braid alive until it answers. */
  #inCall = false;
  #next = 1;
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (err: Error) => void }>();
  /** Calls run one at a time: a deadline is about one calculation. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? CALCULATE_LIMITS.timeoutMs;
  }

  /** Start the process now (mathjs takes a while to load) without waiting for it. */
  warm(): void {
    try {
      if (!this.#closed) void this.#start().catch(() => {}); // a warm-up only: the first call starts it again and fails
    } catch {
      // mathjs is not installed: the call says so
    }
  }

  /** Stop the process (calls waiting fail); the calculator is not used again. */
  close(): void {
    this.#closed = true;
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
    this.#ready = undefined;
  }

  #start(): Promise<ChildProcess> {
    if (this.#ready) return this.#ready;
    const script = childScript();
    const blob = snapshotFor(script);
    let ready = this.#spawn(script, blob);
    // a snapshot whose process does not get ready (a damaged file) is dropped; this process starts the slow way
    if (blob) ready = ready.catch(() => (discardSnapshot(blob), (this.#ready = this.#spawn(script, undefined))));
    return (this.#ready = ready);
  }

  #spawn(script: ChildScript, blob: string | undefined): Promise<ChildProcess> {
    const child = spawn(process.execPath, childArgs(script, blob), {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '' },
    });
    this.#child = child;
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    if (this.#inCall) this.#busy(child);
    else this.#idle(child);
    return new Promise<ChildProcess>((resolve, reject) => {
      child.on('message', (m: { ready: true; from: 'snapshot' | 'script' } | Reply) => {
        if ('ready' in m) return ((this.startedFrom = m.from), resolve(child));
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        p?.resolve(m);
      });
      child.on('exit', (code, signal) => {
        const why = /heap out of memory|Allocation failed/i.test(stderr)
          ? `ran out of memory (limit ${CALCULATE_LIMITS.heapMb} MB)`
          : `its process ended (${signal ?? `exit code ${code}`})`;
        const err = new NonRetriableError(`calculate: ${why}`);
        reject(err);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
        if (this.#child === child) ((this.#child = undefined), (this.#ready = undefined));
      });
      child.on('error', reject);
    });
  }

  /** The process never keeps braid alive while idle. */
  #idle(child: ChildProcess): void {
    child.unref();
    child.channel?.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  #busy(child: ChildProcess): void {
    child.ref();
    child.channel?.ref();
  }

  /** `calledAt`: when the call was made (its deadline counts from then, waiting included). */
  evaluate(
    expression: string,
    signal: AbortSignal,
    calledAt = Date.now(),
  ): Promise<{ result: number | string | boolean; text: string }> {
    const run = this.#tail.then(() => this.#evaluate(expression, signal, calledAt));
    this.#tail = run.catch(() => {}); // the caller gets `run`'s error; the queue goes on to the next expression
    return run;
  }

  async #evaluate(
    expression: string,
    signal: AbortSignal,
    calledAt: number,
  ): Promise<{ result: number | string | boolean; text: string }> {
    if (signal.aborted) throw signal.reason;
    const timeoutMs = this.#timeoutMs;
    const pastDeadline = () =>
      new NonRetriableError(`calculate: "${expression}" ran past ${timeoutMs} ms and was stopped`);
    if (Date.now() - calledAt >= timeoutMs)
      throw new NonRetriableError(
        `calculate: "${expression}" waited ${Date.now() - calledAt} ms for the calculations before it and ran past ${timeoutMs} ms`,
      );
    this.#inCall = true; // waited for: the process (and any that replaces it) keeps braid alive now
    if (this.#child) this.#busy(this.#child);
    try {
      const child = await this.#start();
      const id = this.#next++;
      const reply = await new Promise<Reply>((resolve, reject) => {
        const kill = (err: Error) => {
          this.#pending.delete(id);
          child.kill('SIGKILL'); // stops the calculation
          if (this.#child === child) ((this.#child = undefined), (this.#ready = undefined));
          this.warm(); // a fresh process for the next call, loading now
          reject(err);
        };
        const timer = setTimeout(() => kill(pastDeadline()), Math.max(0, calledAt + timeoutMs - Date.now()));
        const onAbort = () =>
          kill(signal.reason instanceof Error ? signal.reason : new NonRetriableError('calculate: stopped'));
        signal.addEventListener('abort', onAbort, { once: true });
        const done = () => (clearTimeout(timer), signal.removeEventListener('abort', onAbort));
        this.#pending.set(id, { resolve: (r) => (done(), resolve(r)), reject: (e) => (done(), reject(e)) });
        child.send({ id, expression });
      });
      if ('error' in reply) throw new NonRetriableError(`cannot evaluate "${expression}": ${reply.error}`);
      return reply;
    } finally {
      this.#inCall = false;
      if (this.#child) this.#idle(this.#child);
    }
  }
}

/** @internal for tests: a calculator of its own (the tool shares one per process). */
export { Calculator };

/** Calculators by caller (run): one run's slow calls wait for each other, not other runs' (see the header). */
class CalculatorPool {
  readonly #lanes = new Map<string, Lane>();
  readonly #spare: Calculator[] = [];

  constructor(private readonly options: { timeoutMs?: number; processes?: number } = {}) {}

  /** Start a process for the next caller now. */
  warm(): void {
    if (!this.#spare.length && this.#busy().size < this.#max()) this.#spare.push(new Calculator(this.options));
    this.#spare[0]?.warm();
  }

  async evaluate(expression: string, signal: AbortSignal, caller: string) {
    const calledAt = Date.now();
    const lane = this.#lane(caller);
    lane.calls++;
    try {
      return await lane.calc.evaluate(expression, signal, calledAt);
    } finally {
      if (--lane.calls === 0) this.#release(lane);
    }
  }

  /** Processes running now (for tests). */
  get processes(): number {
    return this.#busy().size + this.#spare.length;
  }

  close(): void {
    for (const c of [...this.#busy(), ...this.#spare.splice(0)]) c.close();
    this.#lanes.clear();
  }

  #max = () => this.options.processes ?? CALCULATE_LIMITS.processes;
  #busy = () => new Set([...this.#lanes.values()].map((l) => l.calc));

  #lane(caller: string): Lane {
    let lane = this.#lanes.get(caller);
    if (lane) return lane;
    const calc = this.#spare.pop() ?? (this.#busy().size < this.#max() ? new Calculator(this.options) : undefined);
    if (calc) lane = { calc, calls: 0, callers: new Set() };
    else lane = [...this.#lanes.values()].reduce((a, b) => (b.calls < a.calls ? b : a));
    lane.callers.add(caller);
    this.#lanes.set(caller, lane);
    return lane;
  }

  #release(lane: Lane): void {
    for (const caller of lane.callers) this.#lanes.delete(caller);
    if (this.#spare.length < 1) this.#spare.push(lane.calc);
    else lane.calc.close();
  }
}

interface Lane {
  readonly calc: Calculator;
  calls: number;
  readonly callers: Set<string>;
}

/** @internal for tests: a pool of its own. */
export { CalculatorPool };

const calculators = new CalculatorPool();

/** Evaluate a math expression with units (mathjs), e.g. "350 km / 2 h to km/h". No JS eval. @public */
export const calculate = defineTool({
  name: 'calculate',
  effects: 'none',
  description: 'Evaluate a math expression with mathjs, units included (e.g. "12% of 250", "350 km / 2 h to km/h").',
  input: z.object({ expression: z.string().min(1).max(1000).describe('a mathjs expression') }),
  output: z.object({
    expression: z.string(),
    result: z.union([z.number(), z.string(), z.boolean()]),
    text: z.string(),
  }),
  warm: () => calculators.warm(),
  async run({ expression }, ctx) {
    const { result, text } = await calculators.evaluate(
      expression.replace(/(\d+(?:\.\d+)?)\s*%\s*of\s+/gi, '$1 / 100 * '),
      ctx.signal,
      ctx.runId,
    );
    return { expression, result, text };
  },
});
