/**
 * `braid tools`: the registered tools (built-ins, `--tools` modules, `--mcp` servers) with their input fields, how
 * each takes upstream outputs, and its declared effects; `--json` the same with each input's JSON Schema.
 */
import { builtinTools } from '../../tools/index.js';
import { toJSONSchema } from '../toolkit/json-schema.js';
import { toRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { EXIT } from './exit.js';
import { openMcp } from './mcp-option.js';
import { loadUserTools } from './run-command.js';

export interface ToolsFlags {
  tools?: string[];
  mcp?: string;
  json?: boolean;
}

export async function toolsCommand(flags: ToolsFlags): Promise<number> {
  const mcp = await openMcp(flags.mcp);
  await mcp.close();
  const tools = toRegistry([...(await loadUserTools(flags.tools)), ...mcp.tools], builtinTools()).list();
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify(
        tools.map((t) => ({
          name: t.name,
          description: t.description ?? '',
          input: toJSONSchema(t),
          upstream: upstreamText(t),
          effects: effectsText(t),
        })),
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  for (const t of tools) {
    const schema = toJSONSchema(t) as {
      properties?: Record<string, { type?: unknown; description?: string }>;
      required?: string[];
    };
    const fields = Object.entries(schema.properties ?? {}).map(
      ([k, v]) =>
        `${k}${schema.required?.includes(k) ? '' : '?'}: ${Array.isArray(v.type) ? v.type.join('|') : (v.type ?? 'any')}`,
    );
    process.stdout.write(
      `${t.name}(${fields.join(', ')})\n  ${t.description ?? ''}\n  from upstream: ${upstreamText(t)}\n  effects: ${effectsText(t)}\n`,
    );
  }
  return EXIT.ok;
}

/** How a tool takes upstream outputs when a task's input does not name a field (workflow-spec.md §5a). */
const upstreamText = (t: Tool) =>
  t.upstream?.description ?? 'output fields with the names of its input fields (a later upstream wins)';

/** A tool's declared effects (workflow-spec.md §7a), as `braid tools` shows them. */
function effectsText(t: Tool): string {
  if (typeof t.effects === 'function') return 'depends on the input';
  return t.effects ?? 'undeclared (treated as external)';
}
