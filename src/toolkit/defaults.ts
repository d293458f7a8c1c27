/**
 * The tools every run starts with unless `builtins: false`. The engine knows no tool: it asks here, and
 * braid's built-ins register themselves when their module (tools/index.ts, `builtinTools()`) is loaded by
 * an entry point (`braid`, the CLI, the service, `braid/testing`, `braid/langchain`).
 */
import type { Tool } from './types.js';

let provider: () => readonly Tool[] = () => [];

/** Replace the default tools (a function, called for each run). */
export function registerDefaultTools(tools: () => readonly Tool[]): void {
  provider = tools;
}

export function defaultTools(): readonly Tool[] {
  return provider();
}
