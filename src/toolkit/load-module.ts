/** Load an ES module (`.mjs`, `.js`, or `.ts` through tsx) and collect its exported tools. */
import { spawnSync } from 'node:child_process';
import { access } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ToolsModuleError } from '../errors.js';
import { fromAiSdkTool, isAiSdkTool } from './ai-sdk-tool.js';
import { isTool, type Tool } from './types.js';
import { describeThrown } from '../core/thrown.js';
import { optional } from '../core/optional.js';

export async function importModule(file: string): Promise<Record<string, unknown>> {
  const abs = resolve(file);
  try {
    await access(abs);
  } catch {
    throw new ToolsModuleError(file, 'file not found (check the path)');
  }
  // outside the try: a missing tsx is the setup's error (install it), not the module's
  const tsx = ['.ts', '.mts', '.cts'].includes(extname(abs))
    ? await optional('typescript', () => import('tsx/esm/api'))
    : undefined;
  try {
    if (tsx) return (await tsx.tsImport(pathToFileURL(abs).href, import.meta.url)) as Record<string, unknown>;
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof SyntaxError ? syntaxErrorAt(abs) : undefined;
    throw new ToolsModuleError(
      where ? `${file}:${where}` : file,
      `cannot load module: ${describeThrown(err).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * `line:column` of a JS module's syntax error. Node does not put it in an ESM SyntaxError, so ask
 * `node --check`, which prints `file:LINE`, the line, and a caret under the column (the error path only).
 */
function syntaxErrorAt(abs: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', abs], { encoding: 'utf8', timeout: 10_000 });
  const lines = (r.stderr ?? '').split('\n');
  const head = lines.findIndex((l) => l.startsWith(`${abs}:`) || l.startsWith(`${pathToFileURL(abs).href}:`));
  if (head < 0) return undefined;
  const line = lines[head].slice(lines[head].lastIndexOf(':') + 1);
  const caret = lines[head + 2]?.indexOf('^') ?? -1;
  return /^\d+$/.test(line) ? `${line}${caret >= 0 ? `:${caret + 1}` : ''}` : undefined;
}

/** Every export that is a tool (or an array of tools), in export order; an AI SDK `tool()` takes its export name. */
export function toolsOf(mod: Record<string, unknown>): Tool[] {
  const out: Tool[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (isTool(value)) out.push(value);
    else if (isAiSdkTool(value) && name !== 'default') out.push(fromAiSdkTool(name, value));
    else if (Array.isArray(value)) out.push(...value.filter(isTool));
  }
  return [...new Map(out.map((t) => [t.name, t])).values()];
}

/** The tools a module exports (a `--tools` module), by name. @public */
export async function loadToolsModule(file: string): Promise<Tool[]> {
  const tools = toolsOf(await importModule(file));
  if (tools.length === 0) {
    throw new ToolsModuleError(
      file,
      'exports no tools; export objects with a string `name` and a `run(input, ctx)` function (defineTool helps)',
    );
  }
  return tools;
}
