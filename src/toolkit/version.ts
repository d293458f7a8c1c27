/**
 * A tool's version as a run record keeps it (workflow-spec.md §7a): what forks, replay and the cache compare to know
 * whether a recorded output still stands for the tool as it is now. The declared `version` when there is one; else
 * `code:` and a hash of its `run` function's source, which changes with that function's code but not with code it
 * calls elsewhere (declare a `version` when that matters).
 */
import { createHash } from 'node:crypto';
import type { Tool } from './types.js';

const versions = new WeakMap<Tool, string>();

export function toolVersion(tool: Tool): string {
  let version = versions.get(tool);
  if (version === undefined) {
    version =
      typeof tool.version === 'string' && tool.version
        ? tool.version
        : `code:${createHash('sha256').update(String(tool.run)).digest('hex').slice(0, 16)}`;
    versions.set(tool, version);
  }
  return version;
}

/** The version of every tool a set of tools names, by tool name (the first of a name wins). */
export function toolVersions(tools: Iterable<Tool>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tool of tools) out[tool.name] ??= toolVersion(tool);
  return out;
}
