/**
 * A workflow written with the TypeScript builder: a custom tool defined here, a fan-out of searches
 * over several queries, and a summary that merges them.
 *   braid run examples/research-report.ts --input topic="wind power"
 */
import { z } from 'zod';
import { defineTool, workflow } from 'braid';

/** Turns a topic into three focused queries. */
export const planQueries = defineTool({
  name: 'plan_queries',
  description: 'Split a research topic into focused search queries.',
  input: z.object({ topic: z.string().min(1) }),
  run: ({ topic }) => ({
    cost: `${topic} cost`,
    capacity: `${topic} capacity factor`,
    storage: `${topic} storage grid integration`,
  }),
});

const report = workflow('research-report', {
  description: 'Research a topic from several angles in parallel and summarize.',
  inputs: { type: 'object', properties: { topic: { type: 'string', default: 'wind power' } } },
})
  .task('plan', planQueries, { topic: '{{ input.topic }}' })
  .task(
    'search_cost',
    'web_search',
    { query: '{{ tasks.plan.output.cost }}', max_results: 2 },
    { dependencies: ['plan'] },
  )
  .task(
    'search_capacity',
    'web_search',
    { query: '{{ tasks.plan.output.capacity }}', max_results: 2 },
    { dependencies: ['plan'] },
  )
  .task(
    'search_storage',
    'web_search',
    { query: '{{ tasks.plan.output.storage }}', max_results: 2 },
    { dependencies: ['plan'] },
  )
  .task(
    'summary',
    'summarize_results',
    {
      goal: 'A short research note on {{ input.topic }}',
      results: {
        cost: '{{ tasks.search_cost.output.results }}',
        capacity: '{{ tasks.search_capacity.output.results }}',
        storage: '{{ tasks.search_storage.output.results }}',
      },
    },
    { dependencies: ['search_cost', 'search_capacity', 'search_storage'] },
  );

export default report;
