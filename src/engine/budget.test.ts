/**
 * Run budgets: the guard counts, reports the first limit crossed once, and says by how much; model calls' worst cases
 * are reserved ahead, so that spending never passes a cap however many calls are in flight, and calls that fit are
 * never made to wait.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Usage } from '../core/events.js';
import type { Budget } from '../spec/schema.js';
import { BudgetGuard, fits, units, type Reservation } from './budget.js';
import { bothBudgets } from './call-admission.js';

const usage = (totalTokens: number, costUsd: number | null = 0): Usage => ({
  promptTokens: totalTokens,
  completionTokens: 0,
  totalTokens,
  costUsd,
});

function guard(budget: Budget) {
  const messages: string[] = [];
  return { g: new BudgetGuard(budget, (m) => messages.push(m)), messages };
}

afterEach(() => vi.useRealTimers());

describe('BudgetGuard', () => {
  it('max_tokens: reaching the limit is allowed, passing it is not', () => {
    const { g, messages } = guard({ max_tokens: 10 });
    g.spend(usage(6));
    g.spend(usage(4));
    expect(g.exceeded).toBe(false);
    g.spend(usage(1));
    expect(g.exceeded).toBe(true);
    expect(messages).toEqual(['budget exceeded: max_tokens 10 exceeded (used 11)']);
  });

  it('max_cost_usd: reaching the limit is allowed, passing it is not; unknown cost counts as 0', () => {
    const { g, messages } = guard({ max_cost_usd: 0.5 });
    g.spend(usage(1000, 0.25));
    g.spend(usage(1000, null));
    g.spend(usage(1000, 0.25));
    g.spend(undefined);
    expect(g.exceeded).toBe(false);
    g.spend(usage(1, 0.01));
    expect(messages).toEqual(['budget exceeded: max_cost_usd 0.5 exceeded (spent $0.5100)']);
  });

  it('without a limit nothing is ever exceeded', () => {
    const { g, messages } = guard({});
    g.start();
    g.spend(usage(1e9, 1e9));
    expect(g.exceeded).toBe(false);
    expect(messages).toEqual([]);
  });

  it('once a limit is crossed, the first crossing alone is reported', () => {
    const { g, messages } = guard({ max_tokens: 1, max_cost_usd: 0.001 });
    g.spend(usage(5, 1));
    g.spend(usage(5, 1));
    expect(g.exceeded).toBe(true);
    expect(messages).toEqual(['budget exceeded: max_tokens 1 exceeded (used 5)']);
  });

  it('max_duration_ms: the timer fires at the limit, not before; stop() cancels it (fake timers)', () => {
    vi.useFakeTimers();
    const { g, messages } = guard({ max_duration_ms: 1000 });
    g.start();
    vi.advanceTimersByTime(999);
    expect(g.exceeded).toBe(false);
    vi.advanceTimersByTime(1);
    expect(messages).toEqual(['budget exceeded: max_duration_ms 1000 reached']);
    const stopped = guard({ max_duration_ms: 1000 });
    stopped.g.start();
    stopped.g.stop();
    vi.advanceTimersByTime(5000);
    expect(stopped.g.exceeded).toBe(false);
  });

  it('without max_duration_ms, start() sets no timer', () => {
    vi.useFakeTimers();
    const { g } = guard({ max_tokens: 5 });
    g.start();
    expect(vi.getTimerCount()).toBe(0);
    vi.runAllTimers();
    expect(g.exceeded).toBe(false);
  });

  it('crossing a limit stops the duration timer', () => {
    vi.useFakeTimers();
    const { g, messages } = guard({ max_duration_ms: 1000, max_tokens: 1 });
    g.start();
    g.spend(usage(2, 0));
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(messages).toEqual(['budget exceeded: max_tokens 1 exceeded (used 2)']);
  });
});

const worst = (tokens: number, costUsd: number | null = 0) => ({ tokens, costUsd });

describe('reservations', () => {
  it('fits: reaching a cap fits, passing it does not; the cap passed is named', () => {
    const none = { tokens: 0, cost: 0 };
    expect(fits({ max_tokens: 10 }, { tokens: 4, cost: 0 }, { tokens: 3, cost: 0 }, { tokens: 3, cost: 0 })).toBe(true);
    expect(fits({ max_tokens: 10 }, { tokens: 4, cost: 0 }, { tokens: 3, cost: 0 }, { tokens: 4, cost: 0 })).toBe(
      'max_tokens',
    );
    expect(fits({ max_cost_usd: 0.3 }, none, { tokens: 0, cost: units(0.2) }, { tokens: 0, cost: units(0.1) })).toBe(
      true,
    );
    expect(fits({ max_cost_usd: 0.3 }, none, none, { tokens: 0, cost: units(0.3) + 1 })).toBe('max_cost_usd');
    expect(fits({ max_tasks: 1 }, none, none, { tokens: 1e12, cost: 1e12 })).toBe(true);
  });

  it('the cap holds k worst cases: k calls are held at once, the next one waits; a settle makes room', () => {
    const { g } = guard({ max_tokens: 100 });
    const held = [1, 2, 3, 4].map(() => g.reserve(worst(25)));
    expect(held.every((r) => typeof r === 'object')).toBe(true);
    expect(g.reserve(worst(1))).toBe('wait');
    expect(g.state).toEqual({ spent: { tokens: 0, cost: 0 }, held: { tokens: 100, cost: 0 }, inFlight: 4 });
    g.spend(usage(5)); // a reservation is not a spend: the real usage is, then the hold is released
    g.settle(held[0] as Reservation);
    expect(g.state).toEqual({ spent: { tokens: 5, cost: 0 }, held: { tokens: 75, cost: 0 }, inFlight: 3 });
    expect(typeof g.reserve(worst(20))).toBe('object');
    expect(g.reserve(worst(1))).toBe('wait');
  });

  it('with nothing in flight, a call that does not fit is exhausted; after the budget is exceeded every call is', () => {
    const { g } = guard({ max_tokens: 100 });
    expect(g.reserve(worst(101))).toBe('exhausted');
    expect(typeof g.reserve(worst(100))).toBe('object');
    const { g: crossed } = guard({ max_tokens: 100 });
    crossed.spend(usage(101, 0));
    expect(crossed.reserve(worst(1))).toBe('exhausted');
  });

  it('costs are counted in whole 1e-8 USD: ten calls of $0.1 fit a $1 cap exactly (floats would not)', () => {
    const { g } = guard({ max_cost_usd: 1 });
    for (let i = 0; i < 10; i++) expect(typeof g.reserve(worst(0, 0.1))).toBe('object');
    expect(g.reserve(worst(0, 0.00000001))).toBe('wait');
  });

  it('admit (on_exhausted: fail): a call that does not fit stops the run once, and every later one fails too', async () => {
    const { g, messages } = guard({ max_tokens: 100 });
    const first = await g.admit(worst(60), 'm');
    await expect(g.admit(worst(50), 'm')).rejects.toMatchObject({
      code: 'E_BUDGET',
      message:
        'budget exceeded: max_tokens 100 cannot hold the next model call (worst case 50 tokens; 0 used, 60 held by 1 call in flight)',
    });
    expect(g.exceeded).toBe(true);
    await expect(g.admit(worst(1), 'm')).rejects.toMatchObject({ code: 'E_BUDGET', message: messages[0] });
    g.settle(first);
    expect(messages).toHaveLength(1);
  });

  it('admit (on_exhausted: wait): waits for calls in flight to settle, in order; fails once none is in flight', async () => {
    const { g, messages } = guard({ max_tokens: 100, on_exhausted: 'wait' });
    const a = await g.admit(worst(60), 'm');
    const b = await g.admit(worst(40), 'm');
    const order: string[] = [];
    const c = g.admit(worst(50), 'm').then((r) => (order.push('c'), r));
    const d = g.admit(worst(50), 'm').then((r) => (order.push('d'), r));
    await Promise.resolve();
    expect(order).toEqual([]);
    g.spend(usage(10));
    g.settle(a); // 10 spent, 40 held: c fits (100), d waits
    const rc = await c;
    expect(order).toEqual(['c']);
    g.spend(usage(10));
    g.settle(b); // 20 spent, 50 held: d does not fit; c is still in flight, so d waits on
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['c']);
    g.spend(usage(45));
    g.settle(rc); // 65 spent, nothing in flight: d can never fit
    await expect(d).rejects.toMatchObject({ code: 'E_BUDGET' });
    expect(messages).toEqual([
      'budget exceeded: max_tokens 100 cannot hold the next model call (worst case 50 tokens; 65 used, 0 held by 0 calls in flight)',
    ]);
  });

  it('a waiting call leaves when its signal aborts, and another limit crossing ends the wait with E_BUDGET', async () => {
    const { g } = guard({ max_tokens: 10, on_exhausted: 'wait' });
    await g.admit(worst(10), 'm');
    const stop = new AbortController();
    const aborted = g.admit(worst(1), 'm', stop.signal);
    stop.abort(new Error('stopped'));
    await expect(aborted).rejects.toThrow('stopped');
    const waiting = g.admit(worst(1), 'm');
    g.spend(usage(11, 0)); // usage no reservation held crosses max_tokens
    await expect(waiting).rejects.toMatchObject({
      code: 'E_BUDGET',
      message: 'budget exceeded: max_tokens 10 exceeded (used 11)',
    });
  });

  it('under max_cost_usd a model without a price fails closed (E_PRICE_UNKNOWN), and stops nothing', async () => {
    const { g, messages } = guard({ max_cost_usd: 1 });
    await expect(g.admit(worst(5, null), 'mystery-model')).rejects.toMatchObject({
      code: 'E_PRICE_UNKNOWN',
      retryable: false,
      message: expect.stringContaining('"mystery-model"'),
    });
    expect([g.exceeded, messages]).toEqual([false, []]);
    // Without a cost cap the price does not matter.
    await expect(guard({ max_tokens: 10 }).g.admit(worst(5, null), 'mystery-model')).resolves.toEqual({
      tokens: 5,
      cost: 0,
    });
  });

  it('a hold is released once however often its settle is called; a child run holds at its own budget and its parent', async () => {
    const { g: own } = guard({ max_tokens: 100 });
    const { g: parent } = guard({ max_tokens: 50 });
    const both = bothBudgets(own, parent)!;
    const release = await both.hold(worst(30), 'm');
    expect([own.state.held.tokens, parent.state.held.tokens]).toEqual([30, 30]);
    await expect(both.hold(worst(30), 'm')).rejects.toMatchObject({ code: 'E_BUDGET' }); // the parent's 50
    expect(own.state.held.tokens).toBe(30); // the child's own hold was given back
    release();
    release();
    expect([own.state, parent.state.held]).toEqual([
      { spent: { tokens: 0, cost: 0 }, held: { tokens: 0, cost: 0 }, inFlight: 0 },
      { tokens: 0, cost: 0 },
    ]);
    expect(bothBudgets(undefined, parent)).toBe(parent);
    expect(bothBudgets(own, undefined)).toBe(own);
  });

  it('property: whatever calls do, what was spent and what is held never pass the cap, and a call that fits is held', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('reserve' as const), tokens: fc.integer({ min: 1, max: 60 }) }),
      fc.record({
        kind: fc.constant('settle' as const),
        pick: fc.nat(),
        share: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(step, { maxLength: 60 }), (cap, steps) => {
        const g = new BudgetGuard({ max_tokens: cap, on_exhausted: 'wait' }, () => {});
        const inFlight: Reservation[] = [];
        for (const s of steps) {
          if (s.kind === 'reserve') {
            const before = g.state;
            const r = g.reserve(worst(s.tokens));
            const room = before.spent.tokens + before.held.tokens + s.tokens <= cap;
            expect(typeof r === 'object').toBe(room);
            if (typeof r === 'object') inFlight.push(r);
            else expect(r).toBe(before.inFlight > 0 ? 'wait' : 'exhausted');
          } else if (inFlight.length) {
            const [r] = inFlight.splice(s.pick % inFlight.length, 1);
            g.spend(usage(Math.floor(r.tokens * s.share))); // real usage is at most the worst case
            g.settle(r);
          }
          const { spent, held } = g.state;
          expect(spent.tokens + held.tokens).toBeLessThanOrEqual(cap);
        }
        expect(g.exceeded).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
