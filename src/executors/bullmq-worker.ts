/**
 * The worker side of the BullMQ executor (`braid worker`): BullMQ workers that take attempts from Redis and
 * run them with this process's tools, exactly as in process (a {@link LocalExecutor}: input and output
 * validation, deadlines, errors as data). A tool's `ctx` reports go back as job progress; cancelling a run
 * reaches its attempts here through a Redis channel. SIGTERM: {@link BraidWorker.close} stops taking jobs
 * and lets running ones finish within a grace period; after `kill -9` the jobs stall and BullMQ hands them to
 * another worker.
 *
 * Redis is not trusted: a job runs only when its MAC shows a coordinator with the shared secret sealed it for
 * this queue and job id (so it cannot be replayed for another task), and, with {@link BraidWorkerOptions.admit},
 * when the run's authenticated record has that task with that tool. A refused job fails at once (not retried)
 * and is reported through `onRefused`.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { isoNow } from '../core/clock.js';
import { BraidError } from '../errors.js';
import { track } from '../llm/llm.js';
import type { CallAdmission, LlmCallInfo, LlmProvider } from '../llm/types.js';
import { maxTokensAdmission } from '../llm/worst-case.js';
import type { Logger, Tool, ToolContext, ToolProgress } from '../toolkit/types.js';
import {
  cancelChannel,
  cancelledKey,
  connectionOf,
  DEFAULT_PREFIX,
  hasLimits,
  jobIdOf,
  queueOf,
  Seal,
  SHARED_QUEUE,
  telemetryOption,
  type JobReport,
  type RedisQueueOptions,
  type CancelMark,
  type Sealed,
  type SealedResult,
} from './bullmq-wire.js';
import type { AttemptEvent, AttemptHost, AttemptRequest, AttemptResult } from './contract.js';
import { LocalExecutor } from './local.js';

/** Options of `BraidWorker`. @beta */
export interface BraidWorkerOptions extends RedisQueueOptions {
  /** The tools this worker runs (the coordinator's workflows name them). */
  readonly tools: readonly Tool[];
  /** The model a tool's `ctx.llm` calls. */
  readonly llm?: LlmProvider;
  /** Attempts this process runs at once (per queue). @default 4 */
  readonly concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (BullMQ renews it every half of this): after a worker dies, its
   * attempts go to another worker within about 1.5 times this. A tool that blocks the event loop longer than
   * this looks dead and its attempt runs again elsewhere, so keep it above the longest synchronous stretch of a
   * tool. @default 10000
   */
  readonly lockDurationMs?: number;
  /** Services for `ctx.services`. */
  readonly services?: Readonly<Record<string, unknown>>;
  /** Trace jobs with OpenTelemetry (`bullmq-otel`). @default false */
  readonly telemetry?: boolean;
  /** Each attempt this worker ended (for a log line). */
  readonly onAttempt?: (request: AttemptRequest, result: AttemptResult) => void;
  /**
   * Checks an authentic request against the run's record before it runs (the CLI checks that the run is open
   * and its recorded workflow has the task with that tool): the reason to refuse it, or undefined.
   */
  readonly admit?: (request: AttemptRequest) => Promise<string | undefined>;
  /** A job this worker refused to run (a bad MAC, a job id that is not the request's, `admit`'s reason). */
  readonly onRefused?: (jobId: string, queue: string, reason: string) => void;
  /** How runs name this worker (`task.started`'s `worker`, BullMQ's `processedBy`). @default `host:pid` */
  readonly name?: string;
}

/** How long a job's lock lasts without renewal, by default (docs/scaling-out.md, "What runs where": the trade-off). */
export const DEFAULT_LOCK_MS = 10_000;

/**
 * A BullMQ Worker that takes a job whose stored data is not JSON (written into Redis by something
 * else) as a job with unreadable data, which the processor then refuses (failed for good), instead of failing in
 * BullMQ's own parsing, where the job stalls and comes back for ever.
 */
class GuardedWorker extends Worker {
  protected override createJob(data: Parameters<Worker['createJob']>[0], jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch {
      // Refused below (no MAC) whatever it holds instead.
      // Stryker disable next-line ObjectLiteral,BooleanLiteral
      return super.createJob({ ...data, data: JSON.stringify({ unreadable: true }) }, jobId);
    }
  }
}

/** This process, as `task.started` names it. */
const PROCESS = `${hostname()}:${process.pid}`;

/** A worker process's loop: takes attempts from the queues and runs them with its own tools (`braid worker`). @beta */
export class BraidWorker {
  readonly #options: BraidWorkerOptions;
  readonly #prefix: string;
  readonly #name: string;
  readonly #tools = new Map<string, Tool>();
  readonly #local = new LocalExecutor();
  readonly #workers: Worker[] = [];
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #seal: Seal;
  /**
   * Attempts here by run and lease generation (`<runId>|<generation>`): a cancel aborts those of its generation
   * and older (the tools' signals follow), never those a newer coordinator of the run sent.
   */
  readonly #runs = new Map<
    string,
    { readonly controller: AbortController; readonly runId: string; readonly generation: number; attempts: number }
  >();

  constructor(options: BraidWorkerOptions) {
    this.#options = options;
    this.#name = options.name ?? PROCESS;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#seal = new Seal(options.secret);
    for (const tool of options.tools) this.#tools.set(tool.name, tool);
    // Stryker disable next-line ObjectLiteral: seen only when Redis restarts mid-run (distributed.test.ts, via the CLI)
    this.#redis = new Redis(options.redis, { maxRetriesPerRequest: null });
    // Stryker disable next-line ObjectLiteral: as above
    this.#subscriber = new Redis(options.redis, { maxRetriesPerRequest: null });
    // A connection that breaks is reported by the commands that need it (ioredis only logs an unheard 'error').
    // Stryker disable next-line StringLiteral
    for (const r of [this.#redis, this.#subscriber]) r.on('error', () => {});
  }

  /** The queues this worker takes attempts from. */
  get queues(): string[] {
    return [SHARED_QUEUE, ...[...this.#tools.values()].filter(hasLimits).map(queueOf)];
  }

  /** Start taking attempts; resolves once every queue is listened to. */
  async start(): Promise<void> {
    this.#subscriber.on('message', (_channel, message) => {
      try {
        const { runId, ...sealed } = JSON.parse(message) as { runId: string };
        const cancel = this.#seal.open<CancelMark>('cancel', runId, sealed);
        const err = new BraidError('E_CANCELLED', cancel.message);
        for (const [key, run] of this.#runs)
          if (run.runId === runId && run.generation <= cancel.generation) {
            run.controller.abort(err);
            this.#local.cancel(key, err);
          }
      } catch {
        // not ours, or not from a process with the secret
      }
    });
    await this.#subscriber.subscribe(cancelChannel(this.#prefix));
    const telemetry = await telemetryOption(this.#options.telemetry);
    const connection = connectionOf(this.#options.redis);
    const concurrency = this.#options.concurrency ?? 4;
    // Stryker disable next-line ConditionalExpression: #limit sets only the limits a tool has
    for (const tool of this.#tools.values()) if (hasLimits(tool)) await this.#limit(tool);
    for (const name of this.queues) {
      // The queue's global concurrency (#limit) holds the tool's limit anyway: this only spares the worker's slots.
      // Stryker disable next-line all
      const tool = name === SHARED_QUEUE ? undefined : this.#tools.get(name.slice('tool.'.length));
      const worker = new GuardedWorker(name, (job, _token, signal) => this.#process(job, signal), {
        connection,
        prefix: this.#prefix,
        // Recorded on each job it takes (`processedBy`): a coordinator that finds the job already done names it.
        name: this.#name,
        concurrency: Math.min(concurrency, tool?.concurrency ?? Infinity),
        lockDuration: this.#options.lockDurationMs ?? DEFAULT_LOCK_MS,
        // Look for attempts of dead workers twice per lock duration (how soon, not whether, their attempts move).
        // Stryker disable next-line MethodExpression,ArithmeticOperator
        stalledInterval: Math.max(500, (this.#options.lockDurationMs ?? DEFAULT_LOCK_MS) / 2),
        // A job is re-delivered after its worker died; more than this many deaths fail it (E_WORKER).
        maxStalledCount: 3,
        ...telemetry,
      });
      // BullMQ reports a job's own failure on the job; these are its connection's, retried by it.
      // Stryker disable next-line StringLiteral
      worker.on('error', () => {});
      this.#workers.push(worker);
    }
    // Stryker disable next-line ArrowFunction: jobs wait for the connection anyway
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
  }

  /**
   * Stop taking attempts and wait for running ones up to `graceMs`; then stop them (their jobs go back to
   * the queue when their lock expires). Closes the connections.
   */
  async close(graceMs = 30_000): Promise<void> {
    const closing = Promise.all(this.#workers.map((w) => w.close()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
    // BullMQ's close(true) after a close() only returns the close still waiting for the jobs: instead the workers'
    // connections are dropped, so their locks stop being renewed and the jobs go to another worker once they expire.
    // Stryker disable next-line ConditionalExpression: workers closed in time have nothing left to drop
    if ((await Promise.race([closing, graceOver])) === 'timeout')
      // A connection that will not close is dropped as it is: what it held goes back to the queue with its lock.
      await Promise.all(this.#workers.map((w) => w.disconnect().catch(() => {})));
    clearTimeout(timer);
    // Stryker disable next-line ArrowFunction: a quit that fails has closed the connection already
    await Promise.all([this.#redis, this.#subscriber].map((r) => r.quit().catch(() => r.disconnect())));
  }

  /** A limited tool's queue gets its limits as global ones: they hold across every worker. */
  async #limit(tool: Tool): Promise<void> {
    const queue = new Queue(queueOf(tool), { connection: connectionOf(this.#options.redis), prefix: this.#prefix });
    // Its commands below fail, and say so, if the connection does.
    queue.on('error', () => {});
    try {
      if (tool.concurrency !== undefined) await queue.setGlobalConcurrency(tool.concurrency);
      if (tool.rateLimit) await queue.setGlobalRateLimit(tool.rateLimit.intervalCap, tool.rateLimit.interval);
    } finally {
      await queue.close();
    }
  }

  async #process(job: Job, signal: AbortSignal | undefined): Promise<Sealed> {
    const request = await this.#admitted(job);
    const result = await this.#attempt(job, request, signal ?? new AbortController().signal);
    this.#options.onAttempt?.(request, result);
    const sealed: SealedResult = { result, generation: request.generation ?? 0 };
    return this.#seal.seal('result', job.id!, sealed);
  }

  /** The job's request, once it proves authentic and admitted; else the job fails for good (UnrecoverableError). */
  async #admitted(job: Job): Promise<AttemptRequest> {
    let reason: string | undefined;
    let request: AttemptRequest | undefined;
    try {
      request = this.#seal.open<AttemptRequest>('job', `${job.queueName}|${job.id}`, job.data);
      if (jobIdOf(request) !== job.id) reason = `job id ${job.id} is not the id of the attempt it carries`;
      else reason = await this.#options.admit?.(request);
    } catch (err) {
      // Stryker disable next-line OptionalChaining: what JSON.parse throws is an Error
      reason = BraidError.is(err) ? err.message : `unreadable job: ${String((err as Error)?.message)}`;
    }
    if (reason === undefined) return request!;
    this.#options.onRefused?.(String(job.id), job.queueName, reason);
    throw new UnrecoverableError(`refused by worker ${this.#name}: ${reason}`);
  }

  /** Whether a cancel mark is there, set by a process with the secret, for this generation of the run or newer. */
  #cancelled(request: AttemptRequest, mark: string | null): boolean {
    if (mark === null) return false;
    try {
      return (
        this.#seal.open<CancelMark>('cancel', request.runId, JSON.parse(mark)).generation >= (request.generation ?? 0)
      );
    } catch {
      return false; // a mark no process with the secret set (or not JSON): it stops nothing
    }
  }

  async #attempt(job: Job, request: AttemptRequest, signal: AbortSignal): Promise<AttemptResult> {
    const tool = this.#tools.get(request.tool);
    if (!tool) {
      const message = `this worker has no tool "${request.tool}" (start it with the --tools module that defines it)`;
      return {
        status: 'failed',
        error: { message, code: 'E_WORKER', retryable: false },
        durationMs: 0,
        endedAt: isoNow(),
      };
    }
    // Reports go out in order, and all of them before the result.
    let sent: Promise<unknown> = Promise.resolve();
    const report = (e: JobReport) =>
      void (sent = sent
        .then(() => job.updateProgress(this.#seal.seal('report', job.id!, e) as unknown as object))
        .catch(() => {}));
    // The tool's model calls also travel in the result: a report can be lost, or sent while no coordinator listened.
    const calls: LlmCallInfo[] = [];
    const forward = (e: AttemptEvent) => (e.type === 'llm' && calls.push(e.info), report(e));
    const { llm, services = {} } = this.#options;
    const generation = request.generation ?? 0;
    const key = `${request.runId}|${generation}`;
    const run = this.#runs.get(key) ?? {
      controller: new AbortController(),
      runId: request.runId,
      generation,
      attempts: 0,
    };
    this.#runs.set(key, run);
    const host: AttemptHost = {
      tool: () => tool,
      // Not awaited: the tool starts now; its reports and the result follow this message in order.
      started: () => (report({ type: 'started', worker: this.#name }), true),
      context: (s) => new RemoteContext(s, request, forward, llm, services),
      // The job's own signal (BullMQ aborts it when the worker is forced to close) or the run's cancellation.
      signal: AbortSignal.any([signal, run.controller.signal]),
      forward,
    };
    // Stryker disable next-line UpdateOperator: counted down instead, the entry stays: a leak, not a wrong cancel
    run.attempts++;
    try {
      // A run cancelled while this attempt waited in the queue (a cancel from now on aborts `run.controller`).
      if (this.#cancelled(request, await this.#redis.get(cancelledKey(this.#prefix, request.runId))))
        return { status: 'cancelled' };
      // Keyed by run and generation in the local executor too, so a cancel reaches exactly the attempts it may stop.
      const result = await this.#local.execute({ ...request, runId: key }, host);
      await sent;
      return calls.length > 0 && result.status !== 'cancelled' ? { ...result, calls } : result;
    } finally {
      if (--run.attempts === 0) this.#runs.delete(key);
    }
  }
}

/** A tool's `ctx` in a worker: its reports are forwarded to the run's process. Child runs are not offered. */
class RemoteContext implements ToolContext {
  readonly runId: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly visit: number;
  readonly idempotencyKey: string;
  readonly logger: Logger;
  readonly #admit: CallAdmission;

  constructor(
    readonly signal: AbortSignal,
    request: AttemptRequest,
    readonly forward: (e: AttemptEvent) => void,
    readonly model: LlmProvider | undefined,
    readonly services: Readonly<Record<string, unknown>>,
  ) {
    this.runId = request.runId;
    this.taskId = request.taskId;
    this.attempt = request.attempt;
    this.visit = request.visit;
    this.idempotencyKey = request.idempotencyKey ?? '';
    this.#admit = maxTokensAdmission(request.maxTokens);
    const log = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
      forward({ type: 'log', level, message, ...(fields ? { fields } : {}) });
    this.logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  }

  readonly emit = (progress: ToolProgress): void => this.forward({ type: 'progress', ...progress });

  get llm(): LlmProvider | undefined {
    // The task's max_tokens applies here too; the run's budget counts these calls when their reports arrive.
    return this.model && track(this.model, (info) => this.forward({ type: 'llm', info }), this.#admit);
  }
}
