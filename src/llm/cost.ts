/** Cost from the editable price table `prices.json`; `null` when the model is unknown. */
import { readFileSync } from 'node:fs';
import type { Usage } from '../core/events.js';
import { packagePath } from '../paths.js';
import type { TokenUsage } from './types.js';

type PriceTable = Record<string, { input: number; output: number }>;

let table: PriceTable | undefined;

function prices(): PriceTable {
  const file = process.env.BRAID_PRICES ?? packagePath('src', 'llm', 'prices.json');
  table ??= (JSON.parse(readFileSync(file, 'utf8')) as { models: PriceTable }).models;
  return table;
}

export function priceOf(model: string, provider?: string): { input: number; output: number } | undefined {
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

export function withCost(model: string, usage: TokenUsage, provider?: string): Usage {
  return { ...usage, costUsd: costOf(model, usage, provider) };
}
