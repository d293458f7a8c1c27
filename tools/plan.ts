import { z } from 'zod';
import { BraidError } from '../src/errors.js';
import { planWorkflow } from '../src/planner/planner.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { toRegistry } from '../src/toolkit/registry.js';
import { modelOf } from './llm.js';

/**
 * Task generation: the LLM (offline: keyword rules) turns a goal into a sub-workflow over the registered
 * tools, the validator checks it (errors go back to the LLM, at most `max_rounds` answers), and it runs as
 * a child run whose result is this task's output.
 * @public
 */
export const plan = defineTool({
  name: 'plan',
  description:
    'Plan a sub-workflow for a goal with the LLM over the registered tools, validate it, and run it as a child run.',
  input: z.object({
    goal: z.string().min(1).describe('what the sub-workflow should achieve'),
    max_rounds: z.number().int().min(1).max(10).default(3).describe('model answers allowed, repairs included'),
    run: z.boolean().default(true).describe('false: only plan, do not run'),
    input: z.record(z.string(), z.unknown()).default({}).describe("the child run's input"),
  }),
  // It runs the workflow it plans as a child run of this run: in the run's process, not on a worker.
  runsInProcess: true,
  async run({ goal, max_rounds, run, input }, ctx) {
    if (!ctx.children)
      throw new BraidError('E_PLAN', 'the plan tool needs child runs (run it inside runWorkflow)', {
        retryable: false,
      });
    const planned = await planWorkflow(goal, {
      llm: modelOf(ctx),
      registry: toRegistry(ctx.children.tools),
      maxRounds: max_rounds,
      signal: ctx.signal,
    });
    const summary = {
      workflow: planned.workflow,
      rounds: planned.rounds,
      planner: planned.offline ? 'offline (keyword rules)' : `${ctx.llm?.provider} ${ctx.llm?.model}`,
    };
    if (!run) return summary;
    const result = await ctx.children.run(planned.workflow, input);
    if (result.status !== 'succeeded') {
      const failed = Object.entries(result.tasks).find(([, t]) => t.status === 'failed');
      throw new BraidError(
        'E_PLAN',
        `the planned workflow ${result.status} (child run ${result.runId}${failed ? `; ${failed[0]}: ${failed[1].error?.message}` : ''})`,
        { retryable: false },
      );
    }
    return { ...summary, run: result };
  },
});
