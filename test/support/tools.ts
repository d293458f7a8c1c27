/** Small real tools for engine tests: they record what ran and when, so tests assert order and overlap. */
import { z } from 'zod';
import { defineTool, NonRetriableError, type Tool } from '../../src/index.js';

export interface Interval {
  taskId: string;
  start: number;
  end: number;
}

/** A recorder whose tools log each call's interval (by a logical clock, not wall time). */
export function recorder() {
  let clock = 0;
  const intervals: Interval[] = [];
  const calls: { taskId: string; input: unknown; attempt: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  const work = defineTool({
    name: 'work',
    description: 'test tool: optionally waits, fails, or returns a value',
    input: z.object({
      ms: z.number().int().min(0).default(0),
      value: z.unknown().optional(),
      fail: z.union([z.boolean(), z.number().int()]).optional(),
      fatal: z.boolean().optional(),
      ignoreAbort: z.boolean().optional(),
    }),
    async run(input, ctx) {
      calls.push({ taskId: ctx.taskId, input, attempt: ctx.attempt });
      const entry = { taskId: ctx.taskId, start: ++clock, end: 0 };
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (input.ms > 0) {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, input.ms);
            if (!input.ignoreAbort)
              ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), {
                once: true,
              });
          });
        }
        const shouldFail = input.fail === true || (typeof input.fail === 'number' && ctx.attempt <= input.fail);
        if (shouldFail)
          throw input.fatal
            ? new NonRetriableError(`fatal failure in ${ctx.taskId}`)
            : new Error(`failure in ${ctx.taskId} attempt ${ctx.attempt}`);
        return input.value ?? { taskId: ctx.taskId };
      } finally {
        running--;
        entry.end = ++clock;
        intervals.push(entry);
      }
    },
  });
  return {
    tools: [work] as Tool[],
    intervals,
    calls,
    get maxRunning() {
      return maxRunning;
    },
    ran: () => calls.map((c) => c.taskId),
  };
}

/** Build a workflow from compact task specs; `tool` defaults to "work". */
export function flow(tasks: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  return { name: 'test', ...extra, tasks: tasks.map((t) => ({ tool: 'work', ...t })) };
}
