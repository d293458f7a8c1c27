/** Cost from the editable price table `prices.json`; `null` when the model is unknown. */
import { readFileSync } from 'node:fs';
import type { Usage } from '../core/events.js';
import { packagePath } from '../paths.js';
import type { TokenUsage } from './types.js';

/**
 * USD per 1M tokens: `input` and `output`, and where the model has them, `cached` (cached input) and `reasoning`
 * (reasoning tokens, billed as output when absent).
 */
export interface Price {
  readonly input: number;
  readonly output: number;
  readonly cached?: number;
  readonly reasoning?: number;
}
type PriceTable = Record<string, Price>;

let table: PriceTable | undefined;

function prices(): PriceTable {
  const file = process.env.BRAID_PRICES ?? packagePath('src', 'llm', 'prices.json');
  table ??= (JSON.parse(readFileSync(file, 'utf8')) as { models: PriceTable }).models;
  return table;
}

export function priceOf(model: string, provider?: string): Price | undefined {
  const t = prices();
  if (provider === 'offline') return t.offline;
  if (t[model]) return t[model];
  const prefix = Object.keys(t)
    .filter((k) => model.startsWith(k))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? t[prefix] : undefined;
}

export function costOf(model: string, usage: TokenUsage, provider?: string): number | null {
  const p = priceOf(model, provider);
  if (!p) return null;
  return Math.round(((usage.promptTokens * p.input + usage.completionTokens * p.output) / 1e6) * 1e8) / 1e8;
}

/**
 * The most `promptTokens` in and `completionTokens` out can cost, whichever way they are billed: every prompt token
 * at the dearer of the input and cached prices, every completion token at the dearer of the output and reasoning
 * prices, rounded up to the 1e-8 USD that costs are counted in (so it is never below {@link costOf} of a usage
 * within those counts). `null` when the model has no price.
 */
export function worstCostOf(
  model: string,
  promptTokens: number,
  completionTokens: number,
  provider?: string,
): number | null {
  const p = priceOf(model, provider);
  if (!p) return null;
  const usd =
    (promptTokens * Math.max(p.input, p.cached ?? 0) + completionTokens * Math.max(p.output, p.reasoning ?? 0)) / 1e6;
  return Math.ceil(usd * 1e8 - 1e-6) / 1e8;
}

export function withCost(model: string, usage: TokenUsage, provider?: string): Usage {
  return { ...usage, costUsd: costOf(model, usage, provider) };
}
