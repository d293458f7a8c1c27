import { z } from 'zod';
import { generateFromPrompt } from '../src/llm/llm.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { modelOf } from './llm.js';

const emailSchema = z.object({ subject: z.string(), body: z.string() });

/** Draft a short email presenting an idea (prompts/draft-email.md). @public */
export const draftEmail = defineTool({
  name: 'draft_email',
  effects: 'none',
  description: 'Draft a short email (subject and body) that presents an idea to a recipient.',
  input: z.object({
    idea: z.string().min(1).describe('what the email proposes'),
    recipient: z.string().default('team').describe('who it is for'),
    tone: z.string().default('friendly').describe('e.g. friendly, formal'),
  }),
  output: emailSchema.extend({ to: z.string(), provider: z.string() }),
  async run({ idea, recipient, tone }, ctx) {
    const { object, result } = await generateFromPrompt(
      modelOf(ctx),
      'draft-email',
      { idea, recipient, tone },
      { schema: emailSchema, signal: ctx.signal, purpose: 'draft_email' },
    );
    return { ...object, to: recipient, provider: result.provider };
  },
});
