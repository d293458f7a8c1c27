// Your own tools: export objects with a name, a zod input schema and run(input, ctx).
// Load them with:  braid run examples/custom-tools/flow.yaml --tools examples/custom-tools/tools.mjs
import { z } from 'zod';

export const wordCount = {
  name: 'word_count',
  description: 'Count the words of a text and label it short or long.',
  input: z.object({ text: z.string().min(1), limit: z.number().int().positive().default(12) }),
  run({ text, limit }, ctx) {
    const words = text.trim().split(/\s+/).length;
    ctx.logger.info('counted words', { words });
    return { words, label: words > limit ? 'long' : 'short' };
  },
};

export const shorten = {
  name: 'shorten',
  description: 'Keep the first N words of a text.',
  input: z.object({ text: z.string(), words: z.number().int().positive().default(8) }),
  run: ({ text, words }) => ({ text: `${text.trim().split(/\s+/).slice(0, words).join(' ')}…` }),
};
