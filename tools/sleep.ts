import { z } from 'zod';
import { defineTool } from '../src/toolkit/define-tool.js';
import { CancelledError } from '../src/errors.js';

/** Wait `ms` milliseconds, then return `value` (or `{ slept }`). Honours cancellation and timeouts. @public */
export const sleep = defineTool({
  name: 'sleep',
  effects: 'none',
  description: 'Wait for `ms` milliseconds, then return `value` (default `{ slept: ms }`).',
  input: z.object({ ms: z.number().int().min(0).max(3_600_000), value: z.unknown().optional() }),
  run: ({ ms, value }, { signal }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason ?? new CancelledError());
      const timer = setTimeout(() => resolve(value ?? { slept: ms }), ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason ?? new CancelledError())), {
        once: true,
      });
    }),
});
