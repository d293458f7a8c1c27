/**
 * `braid/ai-sdk`: braid and the Vercel AI SDK both ways. AI SDK tools run as braid tools
 * (`fromAiSdkTools({ multiply })`, or export them from a `--tools` module), and braid workflows become
 * AI SDK tools an agent can call (`asAiSdkTools(catalog)`), each run recorded as usual.
 * Needs the `ai` package (an optional peer dependency).
 */
import { jsonSchema, tool, type Tool as AiTool } from 'ai';
import { runWorkflow, type RunOptions } from '../engine/run.js';
import type { WorkflowCatalog } from '../service/catalog.js';

export { fromAiSdkTool, fromAiSdkTools, isAiSdkTool, type AiSdkToolLike } from '../toolkit/ai-sdk-tool.js';

/**
 * Each workflow of the catalog as an AI SDK tool: its name, description and `inputs` schema; calling it
 * runs the workflow and answers with its status, output and per-task outcome.
 * @beta
 */
export function asAiSdkTools(
  catalog: WorkflowCatalog,
  options: Omit<RunOptions, 'input' | 'signal' | 'tools'> = {},
): Record<string, AiTool> {
  const out: Record<string, AiTool> = {};
  for (const entry of catalog.list()) {
    out[entry.name] = tool({
      description: entry.description,
      inputSchema: jsonSchema<Record<string, unknown>>(entry.inputs as Parameters<typeof jsonSchema>[0]),
      execute: async (input: Record<string, unknown>, { abortSignal }) => {
        const result = await runWorkflow(entry.workflow, {
          ...options,
          tools: catalog.toolsFor(entry),
          input,
          ...(abortSignal ? { signal: abortSignal } : {}),
        });
        const tasks = Object.fromEntries(
          Object.entries(result.tasks).map(([id, t]) => [
            id,
            {
              status: t.status,
              ...(t.reason ? { reason: t.reason } : {}),
              ...(t.error ? { error: t.error.message } : {}),
            },
          ]),
        );
        return { runId: result.runId, status: result.status, output: result.output ?? null, tasks };
      },
    });
  }
  return out;
}
