import { z } from 'zod';
import { generateFromPrompt } from '../src/llm/llm.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { ideaWithFeedback } from './upstream.js';
import { ideaOutput, ideaSchema } from './llm-generate-idea.js';
import { modelOf } from './llm.js';

/** Rewrite a weak idea using the classifier's reason as feedback (prompts/improve-idea.md). @public */
export const retryGenerateIdea = defineTool({
  name: 'retry_generate_idea',
  effects: 'none',
  description: "Regenerate an idea that was judged weak, using the reviewer's reason as feedback.",
  input: z.object({
    idea: z.string().describe('the earlier idea'),
    feedback: z.string().nullable().default(null).describe('why it was judged weak'),
    topic: z.string().default('the same topic'),
  }),
  output: ideaOutput,
  upstream: ideaWithFeedback,
  async run({ idea, feedback, topic }, ctx) {
    const { object, result } = await generateFromPrompt(
      modelOf(ctx),
      'improve-idea',
      { idea, feedback: feedback ?? '(none given)', topic },
      { schema: ideaSchema, signal: ctx.signal, purpose: 'retry_generate_idea' },
    );
    return { ...object, provider: result.provider, model: result.model };
  },
});
