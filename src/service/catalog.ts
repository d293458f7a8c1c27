/**
 * The workflows a chat agent or the HTTP server can start: loaded from a folder (or a list of files and
 * objects), each validated against the tools it can use. A file that does not validate is left out and
 * reported in `problems`, so one broken file does not take the others down.
 */
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { formatIssue, WorkflowValidationError } from '../errors.js';
import { formatOf, parseFile } from '../spec/parse.js';
import { loadWorkflow } from '../spec/load.js';
import type { Workflow } from '../spec/workflow.js';
import { builtinTools } from '../../tools/index.js';
import type { JsonSchema } from '../toolkit/json-schema.js';
import { effectsOf } from '../toolkit/effects.js';
import { toRegistry, type ToolRegistry } from '../toolkit/registry.js';
import type { Tool } from '../toolkit/types.js';
import { describeThrown } from '../core/thrown.js';

/** One workflow of a `WorkflowCatalog`. @public */
export interface CatalogEntry {
  readonly name: string;
  readonly description: string;
  readonly workflow: Workflow;
  /** The run input's JSON Schema (an empty object schema when the workflow declares none). */
  readonly inputs: JsonSchema;
  /** Ask before running (e.g. it sends email). */
  readonly confirm: boolean;
  /**
   * Why a chat asks before running it even without `confirm: true`: a task waits for an approval, or calls a tool
   * with external effects (workflow-spec.md §7a; a tool that declares none counts as external).
   */
  readonly caution?: string;
  readonly file?: string;
  /** Tools the workflow module exported, next to the catalog's own. */
  readonly tools: readonly Tool[];
}

const WORKFLOW_EXTS = new Set(['.yaml', '.yml', '.json', '.ts', '.mjs']);

/** The workflows a chat agent or the HTTP server can start, each validated against the tools it can use. @public */
export class WorkflowCatalog {
  readonly #entries = new Map<string, CatalogEntry>();

  private constructor(
    /** User tools every workflow of the catalog may use (built-ins are always there). */
    readonly tools: readonly Tool[],
    readonly problems: readonly string[],
  ) {}

  /** `sources`: a folder (its workflow files, not sub-folders), or files and workflow objects. */
  static async load(
    sources: string | readonly (string | Workflow)[],
    options: { tools?: readonly Tool[] } = {},
  ): Promise<WorkflowCatalog> {
    const tools = options.tools ?? [];
    const toolNames = toRegistry([...tools], builtinTools()).names();
    const list = typeof sources === 'string' ? await filesIn(sources) : sources;
    const problems: string[] = [];
    const catalog = new WorkflowCatalog(tools, problems);
    for (const source of list) {
      try {
        if (typeof source === 'string') {
          const not = await notAWorkflow(source);
          if (not) {
            problems.push(`${source}: skipped, ${not}`);
            continue;
          }
        }
        const loaded = await loadWorkflow(source, { toolNames });
        const w = loaded.workflow;
        const caution = cautionOf(w, toRegistry([...tools, ...loaded.tools], builtinTools()));
        if (catalog.#entries.has(w.name)) {
          problems.push(`${loaded.file ?? w.name}: a workflow named "${w.name}" is already loaded; left out`);
          continue;
        }
        catalog.#entries.set(w.name, {
          name: w.name,
          description: w.description ?? `Run the ${w.name} workflow (${w.tasks.map((t) => t.id).join(', ')})`,
          workflow: w,
          inputs: (w.inputs as JsonSchema | undefined) ?? { type: 'object', properties: {} },
          confirm: w.confirm ?? false,
          ...(caution ? { caution } : {}),
          ...(loaded.file ? { file: loaded.file } : {}),
          tools: loaded.tools,
        });
      } catch (err) {
        const where = typeof source === 'string' ? source : ((source as { name?: string }).name ?? 'workflow');
        // One line per file: the first problem and how to see the rest.
        if (err instanceof WorkflowValidationError) {
          const more =
            err.issues.length > 1 ? ` (+${err.issues.length - 1} more: braid validate ${err.file ?? where})` : '';
          problems.push(`${formatIssue(err.issues[0], err.file ?? where)}${more}`);
        } else problems.push(`${where}: ${describeThrown(err).message}`);
      }
    }
    return catalog;
  }

  list(): CatalogEntry[] {
    return [...this.#entries.values()];
  }

  get(name: string): CatalogEntry | undefined {
    return this.#entries.get(name);
  }

  /** The tools a run of this entry gets: the catalog's plus the ones its module exported. */
  toolsFor(entry: CatalogEntry): Tool[] {
    return [...this.tools, ...entry.tools];
  }
}

/** The first reason to ask before running a workflow: a task that waits for an approval, or acts on the world. */
function cautionOf(w: Workflow, registry: ToolRegistry): string | undefined {
  for (const t of w.tasks) {
    if (t.approval) return `its task ${t.id} waits for an approval`;
    const tool = registry.get(t.tool);
    if (!tool) return `its task ${t.id} calls ${t.tool}, whose effects are not known here`;
    if (effectsOf(tool, t.input) === 'external') return `its task ${t.id} calls ${t.tool}, which acts on the world`;
  }
  return undefined;
}

/**
 * Why a file in the folder is not a workflow, or undefined when it looks like one. Modules are read as text,
 * never run, unless they build a workflow with braid's `workflow()` (or export a spec): a folder may hold
 * other scripts. Data files need an array of tasks or an object with `tasks`.
 */
async function notAWorkflow(file: string): Promise<string | undefined> {
  if (formatOf(file)) {
    const parsed = await parseFile(file);
    if (!parsed.ok) return undefined; // a broken workflow file: reported as one
    const v = parsed.value as { tasks?: unknown } | unknown[] | null;
    const tasks = Array.isArray(v) ? v : v && typeof v === 'object' ? v.tasks : undefined;
    return Array.isArray(tasks) ? undefined : 'not a workflow (no tasks)';
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return `cannot read it (${describeThrown(err).message})`;
  }
  const usesBraid = /from\s+['"]braid(\/[\w-]+)?['"]|from\s+['"][./]+[^'"]*\/src\/(index|builder)\.js['"]/.test(text);
  const exportsOne =
    /\bworkflow\s*\(/.test(text) && /export\s+(default|const\s+workflow|\{[^}]*\bworkflow\b)/.test(text);
  return usesBraid && exportsOne
    ? undefined
    : "not a workflow module (it does not export a workflow built with braid's workflow()); not run";
}

async function filesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => WORKFLOW_EXTS.has(extname(n).toLowerCase()) && !n.startsWith('.') && !n.endsWith('.d.ts'))
    .sort()
    .map((n) => join(dir, n));
}
