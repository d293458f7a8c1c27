/**
 * What each model call of a run goes through before it is sent (workflow-spec.md §7 "Budgets"), whoever makes it (a
 * tool's `ctx.llm`, the classifier, an `adjust` step, a child run): its `maxTokens` is settled (the task's
 * `max_tokens`, else the tool's, else the provider's default) and, under a token or cost cap, its worst case is held
 * by the run's budget (and a child run's parent's) until its usage is spent. `track()` applies it.
 */
import type { CallAdmission } from '../llm/types.js';
import { maxTokensAdmission, maxTokensFor, worstCase } from '../llm/worst-case.js';
import type { CallBudget } from './budget.js';

/**
 * The admission of one task's calls: `maxTokens` from the task (else the request, else the provider); held by
 * `budget` when there is one, waiting at most until `signal` (the run's, when the request has none) aborts.
 */
export function admission(
  taskMaxTokens: number | undefined,
  budget: CallBudget | undefined,
  signal?: AbortSignal,
): CallAdmission {
  if (!budget) return maxTokensAdmission(taskMaxTokens);
  return async (asked, provider) => {
    const maxTokens = maxTokensFor(asked, provider, taskMaxTokens);
    const request = asked.maxTokens === maxTokens ? asked : { ...asked, maxTokens };
    const worst = worstCase({ ...request, maxTokens }, provider);
    const settle = await budget.hold(worst, provider.model, asked.signal ?? signal);
    return { request, facts: { maxTokens, reserved: worst }, settle };
  };
}

/** A child run's calls are held by its own budget first, then by its parent's (it draws from both). */
export function bothBudgets(own: CallBudget | undefined, parent: CallBudget | undefined): CallBudget | undefined {
  if (!own || !parent) return own ?? parent;
  return {
    async hold(worst, model, signal) {
      const first = await own.hold(worst, model, signal);
      try {
        const second = await parent.hold(worst, model, signal);
        return () => {
          second();
          first();
        };
      } catch (err) {
        first();
        throw err;
      }
    },
  };
}
