import { z } from 'zod';
import { generateFromPrompt } from '../src/llm/llm.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { allOutputsAsResults } from './upstream.js';
import { modelOf } from './llm.js';

/** Merge upstream outputs into one short summary (prompts/summarize.md). @public */
export const summarizeResults = defineTool({
  name: 'summarize_results',
  effects: 'none',
  description: 'Merge the outputs of earlier tasks into one short summary.',
  input: z.object({
    goal: z.string().default('summarize the results'),
    results: z.unknown().describe('upstream outputs, e.g. { search: "{{ tasks.search.output }}" }'),
  }),
  output: z.object({ summary: z.string(), sources: z.number().int(), provider: z.string() }),
  upstream: allOutputsAsResults,
  async run({ goal, results }, ctx) {
    const compact = JSON.stringify(results, null, 1);
    const { text, result } = await generateFromPrompt(
      modelOf(ctx),
      'summarize',
      { goal, results: compact.length > 6000 ? `${compact.slice(0, 6000)}…` : compact },
      { signal: ctx.signal, purpose: 'summarize_results' },
    );
    const sources = results && typeof results === 'object' ? Object.keys(results).length : 1;
    return { summary: text, sources, provider: result.provider };
  },
});
