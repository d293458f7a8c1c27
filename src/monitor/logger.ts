/**
 * Structured logs from the event stream: one pino line per event, `runId` on every line and `taskId` on
 * every task line. JSON lines to a file or stderr; pretty (pino-pretty) on a TTY.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { buffered, type BufferedListener } from '../events/buffered.js';
import type { RunEvent } from '../core/events.js';

/** Options of `createLogger`. @public */
export interface LogOptions {
  /** @default process.env.BRAID_LOG_LEVEL ?? 'info' */
  readonly level?: string;
  /** A file for JSON lines; stderr when absent. */
  readonly file?: string;
  /** Human-readable lines instead of JSON. @default stderr is a TTY and no file */
  readonly pretty?: boolean;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** A pino logger: JSON lines, pretty on a TTY; the level from `BRAID_LOG_LEVEL` unless given. @public */
export function createLogger(options: LogOptions = {}): Logger {
  const level = (options.level ?? process.env.BRAID_LOG_LEVEL ?? 'info').toLowerCase();
  if (!LEVELS.has(level)) throw new Error(`BRAID_LOG_LEVEL must be one of ${[...LEVELS].join(', ')}; got "${level}"`);
  const settings = {
    level: level as LevelWithSilent,
    base: undefined,
    timestamp: false,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.file) return pino(settings, pino.destination({ dest: options.file, sync: true, mkdir: true }));
  if (options.pretty ?? Boolean(process.stderr.isTTY))
    return pino(
      settings,
      pretty({
        destination: 2,
        sync: true,
        colorize: !process.env.NO_COLOR,
        ignore: 'event,seq,runId,taskId',
        singleLine: true,
        errorLikeObjectKeys: [],
        messageFormat: '{if taskId}{taskId}: {end}{msg}',
      }),
    );
  return pino(settings, pino.destination({ dest: 2, sync: true }));
}

type Line = [level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>];

function lineOf(e: RunEvent): Line {
  switch (e.type) {
    case 'run.started':
      return ['info', `run started: ${e.workflow} (${e.tasks} tasks)`, { workflow: e.workflow }];
    case 'run.resumed':
      return ['info', `run resumed, ${e.reused} recorded results reused`, { reused: e.reused }];
    case 'run.finished':
      return [
        e.status === 'succeeded' || e.status === 'waiting' ? 'info' : 'error',
        `run ${e.status} in ${e.durationMs}ms`,
        { status: e.status, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}) },
      ];
    case 'run.stopping':
      return ['warn', `run stopping: ${e.reason}`, { reason: e.reason, ...(e.error ? { error: e.error } : {}) }];
    case 'task.ready':
      return ['debug', 'task ready', { visit: e.visit, ...(e.routedFrom ? { routedFrom: e.routedFrom } : {}) }];
    case 'task.started':
      return ['info', `task started: ${e.tool}`, { tool: e.tool, attempt: e.attempt, visit: e.visit }];
    case 'task.retrying':
      return [
        'warn',
        `task retrying in ${e.delayMs}ms: ${e.error.message}`,
        { attempt: e.attempt, delayMs: e.delayMs, error: e.error },
      ];
    case 'task.succeeded':
      return [
        'info',
        `task succeeded${e.replayed ? ' (recorded result reused)' : ''}`,
        { attempt: e.attempt, visit: e.visit, durationMs: e.durationMs },
      ];
    case 'task.failed':
      return [
        'error',
        `task failed: ${e.error.message}`,
        { attempt: e.attempt, visit: e.visit, durationMs: e.durationMs, error: e.error },
      ];
    case 'task.skipped':
      return ['info', `task skipped: ${e.reason}`, { reason: e.reason }];
    case 'task.labeled':
      return [
        'info',
        `task labeled "${e.label}" by ${e.source}`,
        { label: e.label, source: e.source, ...(e.reason ? { reason: e.reason } : {}) },
      ];
    case 'task.routed':
      return ['info', `routed on ${e.on} to ${e.to}`, { to: e.to, on: e.on }];
    case 'task.waiting':
      return ['warn', `waiting for approval: braid approve ${e.runId} ${e.taskId}`, { visit: e.visit }];
    case 'task.recovery':
      return [
        'warn',
        `on_failure ${e.action}${e.tool ? ` to ${e.tool}` : ''}${e.failed ? ` failed: ${e.failed.message}` : ''} after: ${e.error.message}`,
        {
          action: e.action,
          attempt: e.attempt,
          error: e.error,
          ...(e.item === undefined ? {} : { item: e.item }),
          ...(e.tool ? { tool: e.tool } : {}),
        },
      ];
    case 'task.child':
      return ['info', `child run ${e.childRunId} started`, { childRunId: e.childRunId }];
    case 'task.approval':
      return [
        'info',
        `${e.approved ? 'approved' : 'rejected'}${e.by ? ` by ${e.by}` : ''}`,
        { approved: e.approved, ...(e.by ? { by: e.by } : {}) },
      ];
    case 'task.progress':
      return ['debug', e.message ?? 'progress', { ...(e.progress === undefined ? {} : { progress: e.progress }) }];
    case 'task.log':
      return [e.level, e.message, e.fields];
    case 'llm.call':
      return [
        e.error ? 'warn' : 'debug',
        `llm ${e.purpose}: ${e.provider} ${e.model} ${e.latencyMs}ms ${e.usage.totalTokens} tokens`,
        {
          provider: e.provider,
          model: e.model,
          purpose: e.purpose,
          latencyMs: e.latencyMs,
          usage: e.usage,
          ...(e.error ? { error: e.error } : {}),
        },
      ];
  }
}

/** An event subscriber that logs every event (buffered: logging never delays the scheduler). @public */
export function eventLogger(logger: Logger): BufferedListener {
  const children = new Map<string, Logger>();
  const forRun = (runId: string) => {
    let child = children.get(runId);
    if (!child) children.set(runId, (child = logger.child({ runId })));
    return child;
  };
  return buffered((events) => {
    for (const e of events) {
      const [level, message, fields] = lineOf(e);
      const taskId = 'taskId' in e ? e.taskId : undefined;
      // `time` is when it happened (the event's), not when the buffered line was written.
      forRun(e.runId)[level](
        { time: e.ts, event: e.type, seq: e.seq, ...(taskId ? { taskId } : {}), ...fields },
        message,
      );
    }
  });
}
