/** Load an ES module (`.mjs`, `.js`, or `.ts` through tsx) and collect its exported tools. */
import { access } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ToolsModuleError } from '../errors.js';
import { isTool, type Tool } from './types.js';

export async function importModule(file: string): Promise<Record<string, unknown>> {
  const abs = resolve(file);
  try {
    await access(abs);
  } catch {
    throw new ToolsModuleError(file, 'file not found (check the path)');
  }
  try {
    if (['.ts', '.mts', '.cts'].includes(extname(abs))) {
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(pathToFileURL(abs).href, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ToolsModuleError(file, `cannot load module: ${(err as Error).message}`, { cause: err });
  }
}

/** Every export that is a tool (or an array of tools), in export order. */
export function toolsOf(mod: Record<string, unknown>): Tool[] {
  const out: Tool[] = [];
  for (const value of Object.values(mod)) {
    if (isTool(value)) out.push(value);
    else if (Array.isArray(value)) out.push(...value.filter(isTool));
  }
  return [...new Map(out.map((t) => [t.name, t])).values()];
}

export async function loadToolsModule(file: string): Promise<Tool[]> {
  const tools = toolsOf(await importModule(file));
  if (tools.length === 0) {
    throw new ToolsModuleError(file, 'exports no tools; export objects with a string `name` and a `run(input, ctx)` function (defineTool helps)');
  }
  return tools;
}
