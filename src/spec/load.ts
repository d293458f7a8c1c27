/** Load a workflow from a file (JSON, YAML, or a JS/TS module) or a value; the throwing form of validation. */
import { basename, extname } from 'node:path';
import { WorkflowValidationError } from '../errors.js';
import { importModule, toolsOf } from '../toolkit/load-module.js';
import type { Tool } from '../toolkit/types.js';
import { parseFile } from './parse.js';
import { isValidated, validateWorkflow, type ValidateOptions } from './validate.js';
import type { Workflow } from './workflow.js';

/** What `loadWorkflow` returns. @public */
export interface LoadedWorkflow {
  readonly workflow: Workflow;
  /** The file it came from, if any. */
  readonly file?: string;
  /** Tools exported by a JS/TS workflow module. */
  readonly tools: readonly Tool[];
}

const MODULE_EXTS = ['.mjs', '.js', '.ts', '.mts'];

export function isModuleFile(file: string): boolean {
  return MODULE_EXTS.includes(extname(file).toLowerCase());
}

function isBuilder(value: unknown): value is { build(): unknown; tools: Tool[] } {
  return typeof value === 'object' && value !== null && typeof (value as { build?: unknown }).build === 'function';
}

/** The workflow a module exports as `default` or `workflow` (a spec object or a builder). */
function workflowExport(mod: Record<string, unknown>): unknown {
  const value = mod.default ?? mod.workflow;
  return isBuilder(value) ? value.build() : value;
}

/** Read a file without throwing: `{ value, tools }` or issues. */
export async function readWorkflowFile(
  file: string,
): Promise<{ ok: true; value: unknown; tools: Tool[] } | { ok: false; issues: WorkflowValidationError['issues'] }> {
  if (isModuleFile(file)) {
    const mod = await importModule(file);
    const value = workflowExport(mod);
    if (value === undefined) {
      return {
        ok: false,
        issues: [
          {
            code: 'parse_error',
            path: '',
            message: 'module exports no workflow',
            hint: 'export default workflow(...) or a spec object',
          },
        ],
      };
    }
    const exported = mod.default ?? mod.workflow;
    const builderTools = isBuilder(exported) ? exported.tools : [];
    return { ok: true, value, tools: [...builderTools, ...toolsOf(mod)] };
  }
  const parsed = await parseFile(file);
  return parsed.ok ? { ok: true, value: parsed.value, tools: [] } : parsed;
}

/** Load and validate; throws `WorkflowValidationError` listing every issue. @public */
export async function loadWorkflow(source: string | unknown, options: ValidateOptions = {}): Promise<LoadedWorkflow> {
  if (typeof source !== 'string') {
    // Already validated (by loadWorkflow or validateWorkflow) against tools that are all still here.
    if (isValidated(source, options.toolNames)) return { workflow: source, tools: [] };
    const tools = isBuilder(source) ? source.tools : [];
    const value = isBuilder(source) ? source.build() : source;
    const toolNames = options.toolNames ? [...options.toolNames, ...tools.map((t) => t.name)] : undefined;
    const r = validateWorkflow(value, { ...options, toolNames });
    if (!r.success) throw new WorkflowValidationError(undefined, r.issues);
    return { workflow: r.workflow, tools };
  }
  return validateRead(source, await readWorkflowFile(source), options);
}

/** `loadWorkflow` of a file already read (so a caller that needed its raw value reads it once). */
export function validateRead(
  file: string,
  read: Awaited<ReturnType<typeof readWorkflowFile>>,
  options: ValidateOptions = {},
): LoadedWorkflow {
  if (!read.ok) throw new WorkflowValidationError(file, read.issues);
  const toolNames = options.toolNames ? [...options.toolNames, ...read.tools.map((t) => t.name)] : undefined;
  const defaultName = basename(file, extname(file));
  const r = validateWorkflow(read.value, { ...options, toolNames, defaultName: options.defaultName ?? defaultName });
  if (!r.success) throw new WorkflowValidationError(file, r.issues);
  return { workflow: r.workflow, file, tools: read.tools };
}
