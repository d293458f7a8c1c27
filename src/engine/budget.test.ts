/** Run budgets: the guard counts, reports the first limit crossed once, and says by how much. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Usage } from '../core/events.js';
import type { Budget } from '../spec/schema.js';
import { BudgetGuard } from './budget.js';

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
    for (let i = 0; i < 100; i++) expect(g.enter()).toBe(true);
    expect(g.exceeded).toBe(false);
    expect(messages).toEqual([]);
  });

  it('max_tasks: entries up to the limit are allowed, the next one is refused', () => {
    const { g, messages } = guard({ max_tasks: 2 });
    expect(g.enter()).toBe(true);
    expect(g.enter()).toBe(true);
    expect(messages).toEqual([]);
    expect(g.enter()).toBe(false);
    expect(g.exceeded).toBe(true);
    expect(messages).toEqual(['budget exceeded: max_tasks 2 reached']);
  });

  it('once another limit is crossed, no task may enter; the first crossing alone is reported', () => {
    const { g, messages } = guard({ max_tokens: 1, max_cost_usd: 0.001, max_tasks: 1 });
    g.spend(usage(5, 1));
    expect(g.enter()).toBe(false);
    expect(g.enter()).toBe(false);
    g.spend(usage(5, 1));
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
    const { g, messages } = guard({ max_duration_ms: 1000, max_tasks: 0 });
    g.start();
    expect(g.enter()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(messages).toEqual(['budget exceeded: max_tasks 0 reached']);
  });
});
