/** Shared by the LLM-backed tools: the run's model, or one chosen from the environment. */
import { createProvider } from '../src/llm/llm.js';
import type { LlmProvider } from '../src/llm/types.js';
import type { ToolContext } from '../src/toolkit/types.js';

let fallback: LlmProvider | undefined;

export function modelOf(ctx: ToolContext): LlmProvider {
  return ctx.llm ?? (fallback ??= createProvider());
}
