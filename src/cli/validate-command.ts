/**
 * `braid validate <file>`: every problem `braid run` would refuse the workflow for (its format, its tools, its
 * inputs), and the warnings about parts that can never run as written.
 */
import { basename, extname } from 'node:path';
import { formatIssue } from '../errors.js';
import { analyzeWorkflow } from '../spec/analyze.js';
import { toRegistry, type ToolRegistry } from '../toolkit/registry.js';
import { readWorkflowFile } from '../spec/load.js';
import { validateWorkflow, type ValidationResult } from '../spec/validate.js';
import { checkInputs } from '../spec/input-check.js';
import { unusedInputs } from '../spec/unused-inputs.js';
import { rootFlags, routesOf, type Workflow } from '../spec/workflow.js';
import { nextFireTimes, triggersOf } from '../spec/triggers.js';
import { builtinTools } from '../../tools/index.js';
import { readRunInput } from './input.js';
import { EXIT, useColor } from './exit.js';
import { color, formatIssuesPretty, safeLines, safeText } from './format.js';
import { loadUserTools } from './run-command.js';
import { openMcp } from './mcp-option.js';

export interface ValidateFlags {
  tools?: string[];
  mcp?: string;
  strict?: boolean;
  json?: boolean;
  input?: string[];
  inputFile?: string;
}

export async function validateCommand(file: string, flags: ValidateFlags): Promise<number> {
  const read = await readWorkflowFile(file);
  const mcp = await openMcp(flags.mcp, read.ok ? read.value : undefined);
  try {
    return await validateWith(
      file,
      flags,
      read,
      toRegistry([...(await loadUserTools(flags.tools)), ...mcp.tools, ...(read.ok ? read.tools : [])], builtinTools()),
    );
  } finally {
    await mcp.close();
  }
}

async function validateWith(
  file: string,
  flags: ValidateFlags,
  read: Awaited<ReturnType<typeof readWorkflowFile>>,
  registry: ToolRegistry,
): Promise<number> {
  let result: ValidationResult = read.ok
    ? validateWorkflow(read.value, { toolNames: registry.names(), defaultName: basename(file, extname(file)) })
    : { success: false, issues: [...read.issues] };
  const analysis = result.success ? analyzeWorkflow(result.workflow, registry) : [];
  const warnings = analysis.filter((i) => i.severity === 'warning');
  if (result.success && analysis.length > warnings.length)
    result = { success: false, issues: analysis.filter((i) => i.severity !== 'warning') };
  if (result.success) {
    // What `braid run` would refuse before starting: bad literal inputs, required fields nothing gives (§5a).
    const input = await readRunInput(flags, result.workflow.inputs);
    const inputIssues = [
      ...unusedInputs(result.workflow, registry, Object.keys(input)),
      ...checkInputs(result.workflow, registry, Object.keys(input), { declaredCount: true }),
    ];
    warnings.push(...inputIssues.filter((i) => i.severity === 'warning'));
    const errors = inputIssues.filter((i) => i.severity !== 'warning');
    if (errors.length) result = { success: false, issues: errors };
  }
  const ok = result.success && !(flags.strict && warnings.length);
  if (flags.json) {
    const triggers = result.success ? triggerSummaries(result.workflow) : [];
    process.stdout.write(
      `${JSON.stringify({ ok, issues: result.success ? [] : result.issues, warnings, ...(triggers.length ? { triggers } : {}) }, null, 2)}\n`,
    );
  } else if (result.success) {
    const w = result.workflow;
    const conditional = w.tasks.filter((t) => t.condition !== undefined && t.condition !== null).length;
    const routes = w.tasks.reduce((n, t) => n + routesOf(t).length, 0);
    const isRoot = rootFlags(w.tasks);
    const rootIds = w.tasks.filter((_, i) => isRoot[i]).map((t) => t.id);
    const roots = `${rootIds.length} root${rootIds.length === 1 ? '' : 's'} (${rootIds.slice(0, 5).join(', ')}${rootIds.length > 5 ? ', ...' : ''})`;
    const c = color(useColor());
    if (warnings.length) {
      const mark = flags.strict ? c.red('✖') : c.yellow('⚠');
      process.stderr.write(`${warnings.map((i) => `${mark} ${safeLines(formatIssue(i, file))}`).join('\n')}\n`);
    }
    const counted = `${warnings.length} warning${warnings.length === 1 ? '' : 's'}${flags.strict && warnings.length ? ' (errors with --strict)' : ''}`;
    const summary = `${file}: workflow "${safeText(w.name)}", ${w.tasks.length} tasks, ${roots}, ${conditional} conditional, ${routes} routing edges${warnings.length ? `; ${counted}` : ''}`;
    if (ok) process.stdout.write(`ok: ${summary}\n${triggerLines(w)}`);
    else process.stderr.write(`invalid: ${summary}\n`);
  } else {
    process.stderr.write(
      `${formatIssuesPretty(result.issues, file, useColor())}\n${result.issues.length} problem${result.issues.length === 1 ? '' : 's'} found\n`,
    );
  }
  return ok ? EXIT.ok : EXIT.invalid;
}

/** Each trigger of a valid workflow, a schedule with its next three fire times (workflow-spec.md §10). */
function triggerSummaries(w: Workflow): { name: string; kind: string; on: string; next?: string[] }[] {
  return triggersOf(w).map((t) => ({
    name: t.name,
    kind: t.kind,
    on: t.kind === 'schedule' ? `${t.cron} (${t.timezone})` : t.kind === 'webhook' ? `POST /hooks/${t.path}` : t.event!,
    ...(t.kind === 'schedule' ? { next: nextFireTimes(t, new Date(), 3).map((d) => d.toISOString()) } : {}),
  }));
}

function triggerLines(w: Workflow): string {
  return triggerSummaries(w)
    .map(
      (t) =>
        `  trigger ${safeText(t.name)}: ${t.kind} ${safeText(t.on)}${t.next ? `; next: ${t.next.join(', ')}` : ''}\n`,
    )
    .join('');
}
