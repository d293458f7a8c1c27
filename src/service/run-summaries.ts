/**
 * One line per run for a list (`GET /runs`, the dashboard): the runs of the store, whichever process wrote
 * them, and the runs of this server, newest first. A summary is folded once per change of its record: the
 * store's `version` tells whether it changed (a JSONL file's size and mtime, a Redis stream's length); a run
 * of this server without a store, its event count.
 */
import type { Usage } from '../core/events.js';
import type { TaskResultStatus } from '../core/result.js';
import { foldRun, processAlive, type RecordedRun } from '../store/fold.js';
import type { RunStore } from '../store/types.js';
import type { TriggerRef } from '../spec/triggers.js';
import type { RunManager } from './run-manager.js';

export interface RunSummary {
  readonly runId: string;
  readonly workflow: string;
  /**
   * As in a run record: `running`, `waiting`, `succeeded`, `failed`, `cancelled` or `interrupted` (its process died).
   */
  readonly status: RecordedRun['status'];
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  /**
   * Task counts: all, finished (succeeded, failed or skipped, but not the ones a cancel stopped), the ones a cancel
   * stopped (skipped with reason `cancelled`, workflow-spec.md §7), and per status.
   */
  readonly tasks: {
    readonly total: number;
    readonly done: number;
    readonly cancelled: number;
    readonly byStatus: Partial<Record<TaskResultStatus, number>>;
  };
  readonly usage?: Usage;
  /** The tasks waiting for a human decision (a `waiting` run's), in workflow order. */
  readonly waiting?: readonly string[];
  /** The run whose task started this one (a child run's id is `<parent>.<task>.<attempt>`). */
  readonly parentRunId?: string;
  /** The trigger that started the run, when it started itself (workflow-spec.md §10). */
  readonly trigger?: TriggerRef;
}

export interface SummaryQuery {
  /** @default 100 */
  readonly limit?: number;
  readonly status?: string;
  readonly workflow?: string;
}

/** Filters look at this many of the newest runs. */
export const SCAN_LIMIT = 1000;

export function summarize(run: RecordedRun): RunSummary {
  const byStatus: Partial<Record<TaskResultStatus, number>> = {};
  let total = 0;
  let cancelled = 0;
  const waiting: string[] = [];
  for (const [id, t] of Object.entries(run.tasks)) {
    byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
    total++;
    if (t.status === 'skipped' && t.reason === 'cancelled') cancelled++;
    if (t.status === 'waiting') waiting.push(id);
  }
  const done = (byStatus.succeeded ?? 0) + (byStatus.failed ?? 0) + (byStatus.skipped ?? 0) - cancelled;
  const dot = run.runId.indexOf('.');
  return {
    runId: run.runId,
    workflow: run.workflow,
    status: run.status,
    startedAt: run.startedAt,
    ...(run.endedAt ? { endedAt: run.endedAt, durationMs: Date.parse(run.endedAt) - Date.parse(run.startedAt) } : {}),
    tasks: { total, done, cancelled, byStatus },
    ...(run.usage ? { usage: run.usage } : {}),
    ...(waiting.length ? { waiting } : {}),
    ...(dot > 0 ? { parentRunId: run.runId.slice(0, dot) } : {}),
  };
}

export class RunSummaries {
  readonly #cache = new Map<string, { key: string; summary: RunSummary }>();
  /** A list made moments ago answers the same query again (many open dashboards poll at once). */
  readonly #recent = new Map<string, { at: number; list: Promise<RunSummary[]> }>();

  constructor(
    readonly runs: RunManager,
    readonly store?: RunStore,
  ) {}

  list(query: SummaryQuery = {}, maxAgeMs = 200): Promise<RunSummary[]> {
    const key = JSON.stringify([query.limit, query.status, query.workflow]);
    const hit = this.#recent.get(key);
    if (hit && Date.now() - hit.at < maxAgeMs) return hit.list;
    const list = this.#list(query);
    this.#recent.set(key, { at: Date.now(), list });
    if (this.#recent.size > 50) this.#recent.delete(this.#recent.keys().next().value!);
    list.catch(() => this.#recent.delete(key)); // the caller gets the rejection; a failed list is not cached
    return list;
  }

  async #list(query: SummaryQuery): Promise<RunSummary[]> {
    const ids = new Set<string>();
    // This server's runs first in time order, then the store's (its ids sort by start time).
    for (const h of this.runs.list()) ids.add(h.runId);
    for (const id of (await this.store?.list()) ?? []) ids.add(id);
    const newest = [...ids].sort().reverse().slice(0, SCAN_LIMIT);
    const out: RunSummary[] = [];
    const limit = query.limit ?? 100;
    for (const id of newest) {
      const s = await this.#summary(id);
      if (!s || (query.status && s.status !== query.status) || (query.workflow && s.workflow !== query.workflow))
        continue;
      out.push(s);
      if (out.length >= limit) break;
    }
    for (const id of this.#cache.keys()) if (!ids.has(id)) this.#cache.delete(id);
    return out;
  }

  async #summary(id: string): Promise<RunSummary | undefined> {
    const handle = this.runs.get(id);
    // With a store its record is the whole story (a resumed run's handle has only the events since the resume).
    const key = this.store
      ? await this.store.version?.(id)
      : handle
        ? `live:${handle.events.length}:${handle.finished}`
        : undefined;
    const cached = this.#cache.get(id);
    if (key && cached?.key === key) return cached.summary;
    const stored = this.store ? await this.#stored(id) : undefined;
    const run = this.store ? stored?.run : handle ? this.#fromHandle(id) : undefined;
    if (!run) return undefined;
    const summary = stored?.trigger ? { ...summarize(run), trigger: stored.trigger } : summarize(run);
    if (key) this.#cache.set(id, { key, summary });
    return summary;
  }

  /** A run of a server without a store: its events, and its workflow's tasks from the catalog. */
  #fromHandle(id: string): RecordedRun {
    const handle = this.runs.get(id)!;
    const run = foldRun({ events: handle.events, problems: [] }, () => !handle.finished);
    run.workflow ||= handle.workflow;
    const entry = this.runs.options.catalog.get(handle.workflow);
    for (const t of entry?.workflow.tasks ?? []) run.tasks[t.id] ??= { status: 'pending', attempts: 0, visits: 0 };
    return run;
  }

  async #stored(id: string): Promise<{ run: RecordedRun; trigger?: TriggerRef } | undefined> {
    if (!this.store) return undefined;
    try {
      const record = await this.store.read(id);
      return { run: foldRun(record, processAlive), trigger: record.header?.trigger };
    } catch {
      return undefined; // removed meanwhile, or not a run
    }
  }
}
