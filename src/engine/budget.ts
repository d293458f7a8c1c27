/**
 * Run budgets (`budget:` in the workflow, `--budget-*` flags): tokens, cost and wall time (task entries are counted by
 * `step.ts`). The guard counts and reports the first limit crossed; the driver then stops the run.
 *
 * Tokens and cost are also held ahead (workflow-spec.md §7 "Budgets"): before a model call is sent its worst case is
 * reserved, and it is sent only when what was spent, what calls in flight hold and its worst case fit together under
 * the cap; the hold is released when the call's real usage has been spent. So a run's spending never passes the cap
 * however many calls run at once, and calls that fit are never made to wait for each other. A call that does not fit
 * fails the run (`on_exhausted: fail`) or waits for calls in flight to settle (`wait`; with none in flight it fails).
 */
import type { Usage } from '../core/events.js';
import { BraidError, CancelledError } from '../errors.js';
import type { Reserved } from '../llm/types.js';
import type { Budget } from '../spec/schema.js';

/** What a resumed run had already spent when it stopped (its record's `Spent`). */
export interface PriorSpending {
  readonly tokens: number;
  readonly costUsd: number;
  readonly runningMs: number;
}

/** A call's worst case, held until the call settles: tokens, and cost in {@link units}. */
export interface Reservation {
  readonly tokens: number;
  readonly cost: number;
}

/** Holds model calls' worst cases: the run's budget, and a child run's parent's. */
export interface CallBudget {
  /**
   * Holds `worst` until the returned function is called (after the call's usage was spent); under `on_exhausted:
   * wait` first waits for calls in flight to settle. Throws `E_BUDGET` when it cannot be held (the run is then
   * stopped), `E_PRICE_UNKNOWN` when a cost cap meets a model without a price, and the signal's reason on abort.
   */
  hold(worst: Reserved, model: string, signal?: AbortSignal): Promise<() => void>;
}

/**
 * Costs are counted in whole 1e-8 USD, the unit `costOf` rounds to, so that sums and comparisons are exact (a float
 * sum of many costs could pass the cap by a rounding error).
 */
export const units = (usd: number): number => Math.round(usd * 1e8);
const dollars = (u: number) => `$${(u / 1e8).toFixed(4)}`;

/**
 * Whether `worst` fits beside `spent` and `held` under `budget`'s token and cost caps (reaching a cap fits, passing
 * it does not); otherwise the cap it would pass.
 */
export function fits(
  budget: Budget,
  spent: Reservation,
  held: Reservation,
  worst: Reservation,
): true | 'max_tokens' | 'max_cost_usd' {
  const { max_tokens, max_cost_usd } = budget;
  if (max_tokens !== undefined && spent.tokens + held.tokens + worst.tokens > max_tokens) return 'max_tokens';
  if (max_cost_usd !== undefined && spent.cost + held.cost + worst.cost > units(max_cost_usd)) return 'max_cost_usd';
  return true;
}

export class BudgetGuard implements CallBudget {
  #tokens = 0;
  /** In {@link units}. */
  #cost = 0;
  #heldTokens = 0;
  #heldCost = 0;
  /** Calls holding a reservation. */
  #inFlight = 0;
  /** Calls waiting for a reservation to settle (`on_exhausted: wait`), woken in the order they came. */
  readonly #waiters = new Set<() => void>();
  #timer?: NodeJS.Timeout;
  #exceeded?: string;
  readonly #priorMs: number;

  constructor(
    private readonly budget: Budget,
    /** Called once, with a sentence naming the budget and the amount used. */
    private readonly onExceeded: (message: string) => void,
    /** A resumed run goes on from what it spent: a budget is the run's, not the process's. */
    prior?: PriorSpending,
  ) {
    this.#tokens = prior?.tokens ?? 0;
    this.#cost = units(prior?.costUsd ?? 0);
    this.#priorMs = prior?.runningMs ?? 0;
  }

  get exceeded(): boolean {
    return this.#exceeded !== undefined;
  }

  /** Whether model calls are held ahead: a token or cost cap is set. */
  get reserves(): boolean {
    return this.budget.max_tokens !== undefined || this.budget.max_cost_usd !== undefined;
  }

  /** Spent so far and held by calls in flight (tokens; cost in {@link units}). */
  get state(): { spent: Reservation; held: Reservation; inFlight: number } {
    return {
      spent: { tokens: this.#tokens, cost: this.#cost },
      held: { tokens: this.#heldTokens, cost: this.#heldCost },
      inFlight: this.#inFlight,
    };
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

  /** Count LLM usage; unknown cost (`null`) counts as 0. Usage that no reservation held can pass a cap: it stops. */
  spend(usage: Usage | undefined): void {
    if (!usage) return;
    this.#tokens += usage.totalTokens;
    this.#cost += units(usage.costUsd ?? 0);
    const { max_tokens, max_cost_usd } = this.budget;
    if (max_tokens !== undefined && this.#tokens > max_tokens)
      this.#exceed(`max_tokens ${max_tokens} exceeded (used ${this.#tokens})`);
    else if (max_cost_usd !== undefined && this.#cost > units(max_cost_usd))
      this.#exceed(`max_cost_usd ${max_cost_usd} exceeded (spent ${dollars(this.#cost)})`);
  }

  /**
   * Hold `worst` when it fits beside what was spent and what calls in flight hold; else `'wait'` when some call is in
   * flight (its settling may make room), `'exhausted'` when none is or the budget was already exceeded.
   */
  reserve(worst: Reserved): Reservation | 'wait' | 'exhausted' {
    if (this.#exceeded !== undefined) return 'exhausted';
    const r = { tokens: worst.tokens, cost: units(worst.costUsd ?? 0) };
    const spent = { tokens: this.#tokens, cost: this.#cost };
    if (fits(this.budget, spent, { tokens: this.#heldTokens, cost: this.#heldCost }, r) !== true)
      return this.#inFlight > 0 ? 'wait' : 'exhausted';
    this.#heldTokens += r.tokens;
    this.#heldCost += r.cost;
    this.#inFlight++;
    return r;
  }

  /** Release a reservation (its call's real usage was spent just before) and wake the calls waiting for room. */
  settle(r: Reservation): void {
    this.#heldTokens -= r.tokens;
    this.#heldCost -= r.cost;
    this.#inFlight--;
    this.#wake();
  }

  /**
   * Reserve `worst` under the budget's `on_exhausted`: a call that does not fit fails the run at once (`fail`, the
   * default) or waits until a call in flight settles and tries again (`wait`), failing it when none is in flight.
   */
  async admit(worst: Reserved, model: string, signal?: AbortSignal): Promise<Reservation> {
    if (worst.costUsd === null && this.budget.max_cost_usd !== undefined)
      throw new BraidError(
        'E_PRICE_UNKNOWN',
        `no price is known for model "${model}", so under max_cost_usd ${this.budget.max_cost_usd} the call is not sent; add the model to the price table (BRAID_PRICES)`,
      );
    for (;;) {
      const r = this.reserve(worst);
      if (typeof r === 'object') return r;
      if (r === 'wait' && this.budget.on_exhausted === 'wait') await this.#settled(signal);
      else {
        if (this.#exceeded === undefined) this.#exceed(this.#refusal(worst));
        throw new BraidError('E_BUDGET', this.#exceeded!);
      }
    }
  }

  async hold(worst: Reserved, model: string, signal?: AbortSignal): Promise<() => void> {
    const r = await this.admit(worst, model, signal);
    let settled = false;
    return () => {
      if (settled) return;
      settled = true;
      this.settle(r);
    };
  }

  /** Why `worst` cannot be held: the cap it passes, the worst case, what was spent and what calls in flight hold. */
  #refusal(worst: Reserved): string {
    const r = { tokens: worst.tokens, cost: units(worst.costUsd ?? 0) };
    const spent = { tokens: this.#tokens, cost: this.#cost };
    const held = { tokens: this.#heldTokens, cost: this.#heldCost };
    const cap = fits(this.budget, spent, held, r);
    const flight = `${this.#inFlight} call${this.#inFlight === 1 ? '' : 's'} in flight`;
    return cap === 'max_cost_usd'
      ? `max_cost_usd ${this.budget.max_cost_usd} cannot hold the next model call (worst case ${dollars(r.cost)}; ${dollars(spent.cost)} spent, ${dollars(held.cost)} held by ${flight})`
      : `max_tokens ${this.budget.max_tokens} cannot hold the next model call (worst case ${r.tokens} tokens; ${spent.tokens} used, ${held.tokens} held by ${flight})`;
  }

  /** Resolves when a reservation settles or the budget is exceeded; rejects when `signal` aborts. */
  #settled(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiters.delete(wake);
        reject(signal!.reason instanceof Error ? signal!.reason : new CancelledError());
      };
      if (signal?.aborted) return onAbort();
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  #exceed(what: string): void {
    if (this.#exceeded !== undefined) return;
    this.#exceeded = `budget exceeded: ${what}`;
    this.stop();
    this.onExceeded(this.#exceeded);
    this.#wake();
  }
}
