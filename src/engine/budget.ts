/**
 * Run budgets (`budget:` in the workflow, `--budget-*` flags): tokens, cost, wall time and task entries.
 * The guard only counts and reports the first limit crossed; the scheduler stops the run.
 */
import type { Usage } from '../core/events.js';
import type { Budget } from '../spec/schema.js';

/** What a resumed run had already spent when it stopped (its record's `Spent`). */
export interface PriorSpending {
  readonly tokens: number;
  readonly costUsd: number;
  /** Task visits already counted. */
  readonly tasks: number;
  readonly runningMs: number;
}

export class BudgetGuard {
  #tokens = 0;
  #cost = 0;
  #tasks = 0;
  #timer?: NodeJS.Timeout;
  #exceeded = false;
  readonly #priorMs: number;

  constructor(
    private readonly budget: Budget,
    /** Called once, with a sentence naming the budget and the amount used. */
    private readonly onExceeded: (message: string) => void,
    /** A resumed run goes on from what it spent: a budget is the run's, not the process's. */
    prior?: PriorSpending,
  ) {
    this.#tokens = prior?.tokens ?? 0;
    this.#cost = prior?.costUsd ?? 0;
    this.#tasks = prior?.tasks ?? 0;
    this.#priorMs = prior?.runningMs ?? 0;
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  start(): void {
    const ms = this.budget.max_duration_ms;
    if (ms !== undefined)
      (this.#timer = setTimeout(
        () => this.#exceed(`max_duration_ms ${ms} reached`),
        Math.max(0, ms - this.#priorMs),
      )).unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** Count LLM usage; unknown cost (`null`) counts as 0. */
  spend(usage: Usage | undefined): void {
    if (!usage) return;
    this.#tokens += usage.totalTokens;
    this.#cost += usage.costUsd ?? 0;
    const { max_tokens, max_cost_usd } = this.budget;
    if (max_tokens !== undefined && this.#tokens > max_tokens)
      this.#exceed(`max_tokens ${max_tokens} exceeded (used ${this.#tokens})`);
    else if (max_cost_usd !== undefined && this.#cost > max_cost_usd)
      this.#exceed(`max_cost_usd ${max_cost_usd} exceeded (spent $${this.#cost.toFixed(4)})`);
  }

  /** Count a task entry (not one the run's record already counted); false when it would go over `max_tasks`. */
  enter(counted = false): boolean {
    if (counted) return !this.#exceeded;
    this.#tasks++;
    const max = this.budget.max_tasks;
    if (max !== undefined && this.#tasks > max) {
      this.#exceed(`max_tasks ${max} reached`);
      return false;
    }
    return !this.#exceeded;
  }

  #exceed(what: string): void {
    if (this.#exceeded) return;
    this.#exceeded = true;
    this.stop();
    this.onExceeded(`budget exceeded: ${what}`);
  }
}
