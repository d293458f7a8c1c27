/**
 * What the run's process (the coordinator) and `braid worker` processes agree on over Redis: queue names,
 * job ids, the cancellation channel and the messages a job carries. BullMQ moves the jobs.
 *
 * - An attempt is a job (data: the {@link AttemptRequest}; return value: a {@link SealedResult}, the
 *   {@link AttemptResult} with the request's lease generation).
 * - Tools without limits share the queue `attempts`; a tool that declares `concurrency` or `rateLimit` has a
 *   queue of its own (`tool.<name>`) whose global concurrency and rate limit hold across all workers.
 * - A worker says it starts an attempt, and a tool's `ctx` reports (log lines, progress, model calls)
 *   follow, as job progress ({@link JobReport}).
 * - Cancelling a run sets `<prefix>:cancelled:<runId>` to a {@link CancelMark} (checked before an attempt starts)
 *   and publishes it with the run id on `<prefix>:cancel` (aborts attempts already running).
 * - Every message is sealed ({@link Seal}): JSON text and a MAC under the shared secret's `jobs` key, bound to
 *   what it is (a job, a result, a report, a cancel) and where it belongs (the queue and job id, the run). A
 *   worker runs nothing a process without the secret wrote into Redis, and a coordinator believes no result
 *   or report it did not get from a worker with the secret (workflow-spec.md §9).
 *
 * The same, for a worker written in another language: docs/protocol.md, and a JSON Schema per message in
 * docs/protocol/ (test/protocol.test.ts holds these messages to them).
 */
import type { ConnectionOptions, Telemetry } from 'bullmq';
import { braidSecret, Mac } from '../core/secret.js';
import { BraidError } from '../errors.js';
import type { ToolLimits } from '../toolkit/types.js';
import type { AttemptEvent, AttemptRequest, AttemptResult } from './contract.js';
import { optional } from '../core/optional.js';

export interface RedisQueueOptions {
  /** `redis://host:port[/db]`. */
  readonly redis: string;
  /** Namespace of the queues' keys. @default 'braid:q' */
  readonly prefix?: string;
  /** The secret shared by coordinators and workers (workflow-spec.md §9). @default braidSecret() */
  readonly secret?: Buffer | string;
}

export const DEFAULT_PREFIX = 'braid:q';
export const SHARED_QUEUE = 'attempts';

/** The queue an attempt of a tool goes to. */
export function queueOf(tool: ToolLimits & { readonly name: string }): string {
  return hasLimits(tool) ? `tool.${tool.name}` : SHARED_QUEUE;
}

export const hasLimits = (tool: ToolLimits): boolean => tool.concurrency !== undefined || tool.rateLimit !== undefined;

/**
 * One job per attempt, with an id made of the attempt's coordinates: a request sent twice (a coordinator
 * that took over a run sends its running attempts again) is the same job, not a second execution.
 */
export function jobIdOf(r: AttemptRequest): string {
  // BullMQ refuses ids with ':'; run and task ids never contain '|'.
  return `${r.runId}|${r.taskId}|${r.visit}|${r.attempt}${r.item === undefined ? '' : `|${r.item}`}`;
}

export const cancelChannel = (prefix: string) => `${prefix}:cancel`;
export const cancelledKey = (prefix: string, runId: string) => `${prefix}:cancelled:${runId}`;
/** How long a cancelled run's mark stays (attempts still queued answer `cancelled` within it). */
export const CANCELLED_TTL_S = 24 * 3600;

/** BullMQ's connection options for a URL: blocking commands must retry forever (BullMQ requires it for workers). */
export function connectionOf(url: string): ConnectionOptions {
  // Stryker disable next-line BooleanLiteral: seen only when Redis restarts mid-run (distributed.test.ts, via the CLI)
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

/** What a job's progress carries: the worker starting the attempt, then the tool's reports. */
export type JobReport = AttemptEvent | { readonly type: 'started'; readonly worker: string };

/** The lock BullMQ keeps on an active job while its worker lives (renewed every half `lockDuration`). */
export const jobLockKey = (prefix: string, queue: string, jobId: string) => `${prefix}:${queue}:${jobId}:lock`;

/** BullMQ's `telemetry` option when tracing is on (bullmq-otel loads only then). */
export async function telemetryOption(enabled: boolean | undefined): Promise<{ telemetry?: Telemetry }> {
  if (!enabled) return {};
  const { BullMQOtel } = await optional('queueTracing', () => import('bullmq-otel'));
  return { telemetry: new BullMQOtel({ tracerName: 'braid' }) as Telemetry };
}

/** What a worker returns for a job (sealed): the result and the lease generation of the request it ran. */
export interface SealedResult {
  readonly result: AttemptResult;
  readonly generation: number;
}

/** A cancel (sealed, on the channel and as the run's mark): its message and the sender's lease generation. */
export interface CancelMark {
  readonly message: string;
  readonly generation: number;
}

/** What a sealed message is; a MAC made for one kind is never valid for another. */
export type SealKind = 'job' | 'result' | 'report' | 'cancel';

/** A message as it travels through Redis: its JSON text and the MAC over kind, binding and text. */
export interface Sealed {
  readonly body: string;
  readonly mac: string;
}

/** Seals and opens the messages of the wire under the `jobs` key of the shared secret. */
export class Seal {
  readonly #mac: Mac;

  constructor(secret: Buffer | string = braidSecret()) {
    this.#mac = new Mac(secret, 'jobs');
  }

  seal(kind: SealKind, binding: string, value: unknown): Sealed {
    const body = JSON.stringify(value);
    return { body, mac: this.#mac.sign(kind, binding, body) };
  }

  /** The value, or `E_UNTRUSTED` when the message is not one a process with the secret sealed for this place. */
  open<T>(kind: SealKind, binding: string, sealed: unknown): T {
    const { body, mac } = (typeof sealed === 'object' && sealed !== null ? sealed : {}) as Partial<Sealed>;
    if (typeof body !== 'string' || !this.#mac.verify(mac, kind, binding, body))
      throw new BraidError(
        'E_UNTRUSTED',
        `a ${kind} in Redis failed its MAC check (${binding.slice(0, 200)}): it was not written by a braid process with this secret (every coordinator and worker must share BRAID_SECRET); refused`,
      );
    return JSON.parse(body) as T;
  }
}
