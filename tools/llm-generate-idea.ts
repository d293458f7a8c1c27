import { z } from 'zod';
import { generateFromPrompt } from '../src/llm/llm.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { modelOf } from './llm.js';

export const ideaSchema = z.object({
  idea: z.string().describe('the idea in one or two sentences'),
  pitch: z.string().describe('a one-line pitch'),
  score: z.number().min(0).max(1).nullable().describe('self-assessed quality, 0..1'),
});

/** What the idea tools return: the idea plus which model produced it. */
export const ideaOutput = ideaSchema.extend({ provider: z.string(), model: z.string() });

/**
 * One idea for a topic and audience (prompts/generate-idea.md); given an earlier idea and/or a reviewer's feedback
 * (a routing loop back with the judge's reason), a revision of that idea (prompts/improve-idea.md).
 * @public
 */
export const llmGenerateIdea = defineTool({
  name: 'llm_generate_idea',
  effects: 'none',
  description:
    'Generate one idea for a topic and audience with an LLM; with previous_idea and feedback, revise that idea. Returns idea, pitch and a 0..1 score.',
  input: z.object({
    topic: z.string().min(1).describe('what the idea is about'),
    audience: z.string().default('a general audience').describe('who it is for'),
    feedback: z.string().nullable().default(null).describe('reviewer feedback on the previous idea'),
    previous_idea: z.string().nullable().default(null).describe('the earlier idea to revise'),
  }),
  output: ideaOutput,
  async run({ topic, audience, feedback, previous_idea }, ctx) {
    const llm = modelOf(ctx);
    const options = { schema: ideaSchema, signal: ctx.signal, purpose: 'llm_generate_idea' };
    const { object, result } =
      feedback || previous_idea
        ? await generateFromPrompt(
            llm,
            'improve-idea',
            { topic, idea: previous_idea ?? '(not given)', feedback: feedback ?? '(none given)' },
            options,
          )
        : await generateFromPrompt(llm, 'generate-idea', { topic, audience }, options);
    return { ...object, provider: result.provider, model: result.model };
  },
});
