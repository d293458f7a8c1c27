/** Join rules over a task's upstreams (workflow-spec.md §4). Pure: counts in, decision out. */
import type { TriggerRule } from '../spec/schema.js';
import type { SkipReason } from '../core/result.js';

/**
 * Counts over a task's finished rule upstreams; `failed` includes upstreams skipped as `upstream_failed` (see
 * `ruleStatus`).
 */
export interface UpstreamCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export type TriggerDecision = 'run' | 'wait' | SkipReason;

/**
 * Decide once enough upstreams are terminal. `one_success` and `one_failed` may decide before all are
 * terminal (as in Airflow); every other rule waits for all of them (Airflow may skip `all_success` and
 * the `none_failed` rules as soon as one upstream failed; braid decides the same, only later).
 */
export function decideTrigger(rule: TriggerRule, c: UpstreamCounts): TriggerDecision {
  if (c.total === 0) return 'run';
  const done = c.succeeded + c.failed + c.skipped === c.total;
  const blocked: SkipReason = c.failed > 0 ? 'upstream_failed' : 'upstream_skipped';
  switch (rule) {
    case 'one_success':
      if (c.succeeded > 0) return 'run';
      return done ? blocked : 'wait';
    case 'one_failed':
      if (c.failed > 0) return 'run';
      if (!done) return 'wait';
      return c.skipped === c.total ? 'upstream_skipped' : 'condition_false';
    default:
      break;
  }
  if (!done) return 'wait';
  switch (rule) {
    case 'all_done':
      return 'run';
    case 'all_success':
      return c.succeeded === c.total ? 'run' : blocked;
    case 'none_failed':
      return c.failed === 0 ? 'run' : 'upstream_failed';
    case 'none_failed_min_one_success':
      return c.failed === 0 && c.succeeded > 0 ? 'run' : blocked;
  }
}

/**
 * How a finished upstream counts for the rules: a task skipped because *its* upstream failed is, as
 * Airflow's `upstream_failed` state, a failure (so a failure propagates through a chain to the joins
 * below it and `one_failed` handlers fire on it); every other skip is a plain skip.
 */
export function ruleStatus(
  status: 'succeeded' | 'failed' | 'skipped',
  reason?: SkipReason,
): 'succeeded' | 'failed' | 'skipped' {
  return status === 'skipped' && reason === 'upstream_failed' ? 'failed' : status;
}
