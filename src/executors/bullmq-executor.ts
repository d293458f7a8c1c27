/**
 * Attempts as BullMQ jobs, run by `braid worker` processes on any machine (the scheduler stays in the run's
 * process, as Airflow's CeleryExecutor or Temporal's task queues do). Each attempt is one job with a
 * deterministic id (bullmq-wire.ts); the job's return value is the attempt's result. The run's
 * `concurrency` holds here (a p-queue around sending); a tool's `concurrency` and `rateLimit` hold across
 * all workers (its own queue's global limits, set by the workers that load it).
 *
 * Delivery is at least once: a worker that dies mid-attempt loses its job lock, BullMQ moves the job back
 * to waiting and another worker runs it (the run's events say so, and what the attempt waits for meanwhile).
 *
 * Takeovers: attempts and cancels carry the generation of this coordinator's lease on the run (a fencing
 * token). A coordinator that takes a run over sends the same job ids again, so it awaits what still runs and
 * keeps what ended as fact; only an attempt an older generation's cancel stopped is sent again. A coordinator
 * that lost the run (`E_LOCKED`, `E_STORE`) tells the workers nothing.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import PQueue from 'p-queue';
import { isoNow } from '../core/clock.js';
import { BraidError, isRetryable, type ErrorCode } from '../errors.js';
import {
  cancelChannel,
  cancelledKey,
  CANCELLED_TTL_S,
  connectionOf,
  DEFAULT_PREFIX,
  jobIdOf,
  jobLockKey,
  queueOf,
  Seal,
  telemetryOption,
  type JobReport,
  type RedisQueueOptions,
  type CancelMark,
  type SealedResult,
} from './bullmq-wire.js';
import { LocalExecutor } from './local.js';
import type { AttemptError, AttemptExecutor, AttemptHost, AttemptRequest, AttemptResult } from './contract.js';

/** Options of `BullmqExecutor`. @beta */
export interface BullmqExecutorOptions extends RedisQueueOptions {
  /** Most attempts of one run sent at once (the run's `concurrency`). @default Infinity */
  readonly concurrency?: number;
  /** Trace jobs with OpenTelemetry (`bullmq-otel`): sending and processing an attempt share a trace. @default false */
  readonly telemetry?: boolean;
  /** Called once when no worker listens on a queue an attempt was sent to (`braid run` prints it). */
  readonly onNoWorker?: (queue: string) => void;
  /**
   * The generation of this process's lease on a run (`RedisRunStore.generationOf`): stamped on the run's attempts
   * and cancels as their fencing token. @default none (generation 0)
   */
  readonly generationOf?: (runId: string) => number | undefined;
  /**
   * How often to check that the workers running this process's attempts still hold their job locks: an attempt
   * whose worker died says so in its progress (the run's events) until BullMQ hands it to another worker.
   * @default 2000
   */
  readonly watchMs?: number;
}

interface Pending {
  readonly request: AttemptRequest;
  readonly host: AttemptHost;
  readonly resolve: (result: AttemptResult) => void;
  started: boolean;
  /** The queue it was sent to. */
  queue?: string;
  /** The worker running it, as its last `started` report named it. */
  worker?: string;
  /** The worker whose loss was already reported (once per worker). */
  lost?: string;
  /** When the attempt first started (ms), on whichever worker and under whichever coordinator. */
  startedMs?: number;
}

interface Channel {
  readonly queue: Queue;
  readonly events: QueueEvents;
}

/** Runs attempts on `BraidWorker`s through BullMQ queues in Redis (`braid run --redis`). @beta */
export class BullmqExecutor implements AttemptExecutor {
  readonly #options: BullmqExecutorOptions;
  readonly #prefix: string;
  readonly #redis: Redis;
  readonly #run: PQueue | null;
  readonly #channels = new Map<string, Promise<Channel>>();
  /** Attempts sent and not answered yet, by job id. */
  readonly #pending = new Map<string, Pending>();
  /** Queues already checked for a listening worker. */
  readonly #checked = new Set<string>();
  /** Tools that run in this process (`runsInProcess`); the run's concurrency holds for them too. */
  readonly #local = new LocalExecutor();
  readonly #seal: Seal;
  #telemetry?: ReturnType<typeof telemetryOption>;
  #watch?: NodeJS.Timeout;

  constructor(options: BullmqExecutorOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#seal = new Seal(options.secret);
    // Stryker disable next-line ObjectLiteral: seen only when Redis restarts mid-run (distributed.test.ts, via the CLI)
    this.#redis = new Redis(options.redis, { maxRetriesPerRequest: null });
    // A connection that breaks is reported by the commands that need it (ioredis only logs an unheard 'error').
    // Stryker disable next-line StringLiteral
    this.#redis.on('error', () => {});
    const concurrency = options.concurrency ?? Infinity;
    // Stryker disable next-line ConditionalExpression: a queue of infinite concurrency holds nothing back either
    this.#run = concurrency === Infinity ? null : new PQueue({ concurrency });
  }

  execute(request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    const send = host.tool(request.tool).runsInProcess
      ? () => this.#local.execute(request, host)
      : () => this.#send(request, host);
    return this.#run ? (this.#run.add(send) as Promise<AttemptResult>) : send();
  }

  cancel(runId: string, reason: Error): void {
    this.#local.cancel(runId, reason);
    // Whatever stopped the run, a cancelled attempt is not tried again.
    const error = {
      message: reason.message,
      code: BraidError.is(reason) ? reason.code : 'E_CANCELLED',
      retryable: false,
    };
    for (const [id, p] of this.#pending) if (p.request.runId === runId) this.#settle(id, failedWith(error));
    // This process lost the run (its lease, or its record), but the run is not stopped: the coordinator that takes
    // it over awaits these same jobs, and their successes are facts. The workers are not told.
    if (BraidError.is(reason) && (reason.code === 'E_LOCKED' || reason.code === 'E_STORE')) return;
    const generation = this.#options.generationOf?.(runId) ?? 0;
    const mark: CancelMark = { message: reason.message, generation };
    const sealed = this.#seal.seal('cancel', runId, mark);
    void this.#redis
      .multi()
      .set(cancelledKey(this.#prefix, runId), JSON.stringify(sealed), 'EX', CANCELLED_TTL_S)
      .publish(cancelChannel(this.#prefix), JSON.stringify({ runId, ...sealed }))
      .exec()
      // Redis away: the workers are not told, so their attempts run on; the run is stopped here all the same and
      // what they return is no longer awaited.
      .catch(() => {});
  }

  /** Close the connections (after the runs that use it ended). */
  async close(): Promise<void> {
    clearInterval(this.#watch);
    const channels = await Promise.allSettled(this.#channels.values());
    await Promise.all(
      channels.flatMap((c) => (c.status === 'fulfilled' ? [c.value.events.close(), c.value.queue.close()] : [])),
    );
    // Stryker disable next-line ArrowFunction: a quit that fails has closed the connection already
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  async #send(given: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    if (host.signal.aborted) return { status: 'cancelled' };
    const generation = this.#options.generationOf?.(given.runId);
    // The key is made when first read (most attempts run in process and never need it): one sent elsewhere carries it.
    const key = given.idempotencyKey ?? host.idempotencyKey;
    // Stryker disable next-line ConditionalExpression: `generation: undefined` is not in the JSON either
    const request = {
      ...given,
      ...(key === undefined ? {} : { idempotencyKey: key }),
      ...(generation === undefined ? {} : { generation }),
    };
    const id = jobIdOf(request);
    const name = queueOf(host.tool(request.tool));
    const result = new Promise<AttemptResult>((resolve) =>
      this.#pending.set(id, { request, host, resolve, started: false, queue: name }),
    );
    this.#watchWorkers();
    try {
      const { queue } = await this.#channel(name);
      const job = await this.#add(queue, request);
      await this.#alreadyDone(queue, job);
      // Once per queue (CLIENT LIST is not free): is anyone listening?
      if (!this.#checked.has(name)) {
        this.#checked.add(name);
        if ((await queue.getWorkersCount()) === 0) this.#options.onNoWorker?.(name);
      }
    } catch (err) {
      this.#settle(id, failedNow('E_WORKER', `could not send the attempt to Redis: ${(err as Error).message}`));
    }
    return result;
  }

  /** One job per attempt, its id the attempt's coordinates; a job of that id already there is returned as it is. */
  #add(queue: Queue, request: AttemptRequest): Promise<Job> {
    const id = jobIdOf(request);
    return queue.add(request.tool, this.#seal.seal('job', `${queue.name}|${id}`, request), {
      jobId: id,
      attempts: 1,
      removeOnComplete: { age: 3600, count: 10_000 },
      // Stryker disable next-line ArithmeticOperator: how long a failed job is kept, for people to look at
      removeOnFail: { age: 24 * 3600 },
    });
  }

  /** The job id existed already (the attempt was sent before, e.g. by a coordinator that died) and it ended. */
  async #alreadyDone(queue: Queue, job: Job): Promise<void> {
    const state = await queue.getJobState(job.id!);
    if (state === 'active') {
      // A worker runs it already (sent by a coordinator this one took over from): the task's time starts then.
      const running = await queue.getJob(job.id!);
      if (running?.processedOn)
        this.#markStarted(job.id!, running.processedBy, new Date(running.processedOn).toISOString());
      return;
    }
    if (state !== 'completed' && state !== 'failed') return;
    const done = await queue.getJob(job.id!);
    if (!done) return;
    // It ran before this process sent it: its time is counted from when a worker took it.
    const startedAt = done.processedOn ? new Date(done.processedOn).toISOString() : undefined;
    if (state === 'completed') await this.#answer(job.id!, done.returnvalue, startedAt, done.processedBy);
    else this.#ended(job.id!, workerFailure(done.failedReason), startedAt, done.processedBy);
  }

  /**
   * A job's sealed return value: the attempt's result, unless an older generation's cancel (a coordinator that
   * lost the run stopped it) is all it says; then the attempt is sent again under this generation, with the same
   * job id. An older generation's success or genuine failure is a fact and settles the attempt.
   */
  async #answer(jobId: string, returnvalue: unknown, startedAt?: string, worker?: string): Promise<void> {
    const p = this.#pending.get(jobId);
    if (!p) return;
    const { result, generation } = this.#result(jobId, returnvalue);
    if (generation < (p.request.generation ?? 0) && stoppedByCancel(result)) {
      try {
        const { queue } = await this.#channel(queueOf(p.host.tool(p.request.tool)));
        await queue.remove(jobId); // it ended: its id is free for this generation's job
        await this.#add(queue, p.request);
      } catch (err) {
        // Redis failing between the job's end and this: the failure is what the attempt records (retried).
        this.#ended(
          jobId,
          // Stryker disable next-line StringLiteral
          failedNow('E_WORKER', `could not send the attempt to Redis again: ${(err as Error).message}`),
        );
      }
      return;
    }
    this.#ended(jobId, result, startedAt, worker);
  }

  #ended(jobId: string, result: AttemptResult, startedAt?: string, worker?: string): void {
    if (result.status !== 'cancelled') this.#markStarted(jobId, worker, startedAt);
    const from = this.#pending.get(jobId)?.startedMs;
    // An attempt lasts from its first start to its end, time on a worker that died included: the duration in the
    // logs is the one the summary and the dashboard show (endedAt - startedAt), not only the last delivery's.
    if (from !== undefined && result.status !== 'cancelled') {
      const wall = Date.parse(result.endedAt) - from;
      // Without a redelivery the two differ by the latency of the `started` report.
      // Stryker disable next-line ConditionalExpression,EqualityOperator
      if (wall > result.durationMs) result = { ...result, durationMs: wall };
    }
    this.#settle(jobId, result);
  }

  #channel(name: string): Promise<Channel> {
    let channel = this.#channels.get(name);
    if (!channel) this.#channels.set(name, (channel = this.#open(name)));
    return channel;
  }

  async #open(name: string): Promise<Channel> {
    // Stryker disable next-line AssignmentOperator: tracing off, both give no option
    const telemetry = await (this.#telemetry ??= telemetryOption(this.#options.telemetry));
    const connection = connectionOf(this.#options.redis);
    const queue = new Queue(name, { connection, prefix: this.#prefix, ...telemetry });
    // Errors of its connection reach the commands that need it (the send fails, and says so).
    // Stryker disable next-line StringLiteral
    queue.on('error', () => {});
    // Read the events stream from its current end, so nothing after this point is missed.
    const last = await this.#redis.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(name, {
      connection,
      prefix: this.#prefix,
      // Stryker disable next-line LogicalOperator,StringLiteral: an empty stream: from its start, or from now, the same
      lastEventId: last[0]?.[0] ?? '0-0',
    });
    // A broken events connection reconnects and reads on from its last id: nothing is missed.
    // Stryker disable next-line StringLiteral
    events.on('error', () => {});
    events.on('progress', ({ jobId, data }) => {
      let report: JobReport;
      try {
        report = this.#seal.open<JobReport>('report', jobId, data);
      } catch {
        return; // not from a worker with the secret: believed in nothing
      }
      if (report.type === 'started') return this.#markStarted(jobId, report.worker);
      this.#pending.get(jobId)?.host.forward(report);
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      void this.#answer(jobId, returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }) => this.#ended(jobId, workerFailure(failedReason)));
    // BullMQ's stalled check found the job's lock expired and put it back in the queue. (The lock watch below says
    // it first unless the watch is slower than the stalled check: test/bullmq-worker.test.ts takes either.)
    // Stryker disable next-line BlockStatement
    events.on('stalled', ({ jobId }) => {
      const p = this.#pending.get(jobId);
      // Stryker disable next-line StringLiteral
      if (p) this.#lost(p, 'was lost (its lock on the attempt expired)');
    });
    // Stryker disable next-line ArrayDeclaration: commands wait for the connection anyway
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return { queue, events };
  }

  /**
   * A job's return value as the attempt's result, once its MAC shows a worker with the secret made it; else a
   * failure that is not retried (something wrote results into Redis that no worker produced).
   */
  #result(jobId: string, returnvalue: unknown): { result: AttemptResult; generation: number } {
    try {
      const sealed: unknown = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
      return this.#seal.open<SealedResult>('result', jobId, sealed);
    } catch (err) {
      const message = BraidError.is(err) ? err.message : `the result of job ${jobId} cannot be read`;
      return {
        result: failedNow('E_UNTRUSTED', message),
        generation: Infinity,
      };
    }
  }

  /** A worker starts the attempt: the scheduler records its start (once, even when it is re-delivered). */
  #markStarted(jobId: string, worker?: string, startedAt?: string): void {
    const p = this.#pending.get(jobId);
    if (!p) return;
    if (p.started) {
      // BullMQ handed the attempt to another worker (the first died or stalled past its lock): the record says
      // which was lost and which took over; the task keeps its first start.
      if (worker && p.worker && worker !== p.worker)
        p.host.forward({
          type: 'log',
          level: 'warn',
          message: `worker ${p.worker} was lost mid-attempt; worker ${worker} runs the attempt again (BullMQ redelivery)`,
          fields: { lostWorker: p.worker, worker },
        });
      // Stryker disable next-line ConditionalExpression: every delivery names its worker
      if (worker) p.worker = worker;
      return;
    }
    p.started = true;
    p.worker = worker;
    p.startedMs = startedAt ? Date.parse(startedAt) : Date.now();
    // False: the run stopped meanwhile; cancel() has answered the attempt and told the workers.
    p.host.started(worker, startedAt);
  }

  /** Say once per worker what an attempt whose worker is gone waits for (its progress, in the run's events). */
  #lost(p: Pending, why: string): void {
    if (!p.worker || p.lost === p.worker) return;
    p.lost = p.worker;
    p.host.forward({
      type: 'progress',
      message: `waiting: worker ${p.worker} ${why}; BullMQ hands the attempt to another worker`,
    });
  }

  /**
   * While attempts run on workers, check every `watchMs` that their workers still hold the job locks. A lock gone
   * while the job is not finished means its worker died (or blocks its event loop): the attempt's progress says
   * what it waits for, once per worker, until BullMQ's stalled check hands it to another worker.
   */
  #watchWorkers(): void {
    // Stryker disable next-line ConditionalExpression: a second watch says nothing more (#lost says it once per worker)
    if (this.#watch) return;
    this.#watch = setInterval(() => {
      // The filter only spares Redis questions whose answers #lost would ignore.
      // Stryker disable next-line all
      const watched = [...this.#pending].filter(([, p]) => p.started && p.worker && p.lost !== p.worker && p.queue);
      // An idle watch stops (it is unref'd: a timer left running keeps nothing alive).
      // Stryker disable next-line all
      if (!watched.length) {
        // Stryker disable next-line all
        if (!this.#pending.size) (clearInterval(this.#watch), (this.#watch = undefined));
        return;
      }
      const check = this.#redis.multi();
      for (const [id, p] of watched) check.exists(jobLockKey(this.#prefix, p.queue!, id));
      void check.exec().then(
        (answers) =>
          watched.forEach(([id, p], i) => {
            // Stryker disable next-line OptionalChaining: EXISTS answers every key
            if (answers?.[i]?.[1] !== 0 || this.#pending.get(id) !== p) return;
            this.#lost(p, 'stopped renewing its lock on this attempt (it died or blocks its event loop)');
          }),
        () => {}, // Redis away: the next check asks again
      );
    }, this.#options.watchMs ?? 2000);
    this.#watch.unref();
  }

  #settle(jobId: string, result: AttemptResult): void {
    const p = this.#pending.get(jobId);
    if (!p) return;
    this.#pending.delete(jobId);
    p.resolve(result);
  }
}

/**
 * The attempt did not run to its end because a cancel stopped it (not because the tool failed): a worker answers
 * `cancelled` for a run cancelled before it started, and E_CANCELLED for a tool its cancel aborted.
 */
const stoppedByCancel = (r: AttemptResult): boolean =>
  r.status === 'cancelled' || (r.status === 'failed' && r.error.code === 'E_CANCELLED');

/** An attempt that failed without running (nothing to time): its error, ended now. */
const failedWith = (error: AttemptError): AttemptResult => ({
  status: 'failed',
  error,
  durationMs: 0,
  endedAt: isoNow(),
});

/** An attempt that failed without running, with a code of the table (which says whether to retry it). */
const failedNow = (code: ErrorCode, message: string): AttemptResult =>
  failedWith({ message, code, retryable: isRetryable(code) });

/** A job BullMQ failed (it stalled too often, or a worker could not run it at all): retryable. */
function workerFailure(reason: string | undefined): AttemptResult {
  // Stryker disable next-line LogicalOperator,StringLiteral: BullMQ gives every failed job a reason
  return failedNow('E_WORKER', `worker: ${reason ?? 'the job failed'}`);
}
