/**
 * Structured logs from the event stream: one pino line per event, `runId` on every line and `taskId` on
 * every task line. JSON lines to a file or stderr; pretty (pino-pretty) on a TTY.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { buffered, type BufferedListener } from '../events/buffered.js';
import { descriptorOf } from '../core/event-table.js';

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
      const line = descriptorOf(e)?.log(e);
      if (!line) continue; // a type this version does not know
      const [level, message, fields] = line;
      const taskId = 'taskId' in e ? e.taskId : undefined;
      // `time` is when it happened (the event's), not when the buffered line was written.
      forRun(e.runId)[level](
        { time: e.ts, event: e.type, seq: e.seq, ...(taskId ? { taskId } : {}), ...fields },
        message,
      );
    }
  });
}
