import { z } from 'zod';
import { defineTool } from '../src/toolkit/define-tool.js';

/** Returns its `value` unchanged: handy for wiring, labels and tests. @public */
export const echo = defineTool({
  name: 'echo',
  effects: 'none',
  description: 'Return `value` unchanged (use it to pass data or a fixed label along).',
  input: z.object({ value: z.unknown().describe('any JSON value') }),
  run: ({ value }) => value,
});
