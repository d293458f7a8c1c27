/**
 * Run inputs nothing can take (workflow-spec.md §1): `--input compnay=acme` for a workflow that reads `company`.
 * A name can be taken when the workflow's `inputs` declares it, when some template or expression reads
 * `input.<name>`, or when it is a field of a task's tool input (§5a merges run inputs by field name); a tool with
 * no declared input fields may take anything. Such a name is a warning with a did-you-mean hint, and an error
 * when the `inputs` schema forbids other keys (`additionalProperties: false`), since the run would refuse it.
 */
import { isRecord } from '../core/is-record.js';
import type { Issue } from '../errors.js';
import { inputFieldsOf } from '../toolkit/schema-fields.js';
import type { ToolRegistry } from '../toolkit/registry.js';
import { formatPath } from './path.js';
import { didYouMean } from './suggest.js';
import type { Workflow } from './workflow.js';

export function unusedInputs(workflow: Workflow, registry: ToolRegistry, names: Iterable<string>): Issue[] {
  const given = [...names];
  if (!given.length) return [];
  const declared = isRecord(workflow.inputs) && isRecord(workflow.inputs.properties) ? workflow.inputs.properties : {};
  const takers = new Set(Object.keys(declared));
  for (const t of workflow.tasks) {
    if (!registry.has(t.tool)) return []; // an unknown tool (reported elsewhere) may take anything
    const fields = inputFieldsOf(registry.get(t.tool)).all;
    if (!fields.length) return [];
    for (const f of fields) takers.add(f);
  }
  // Templates and JSONata expressions alike name what they read as `input.<name>`.
  const text = JSON.stringify(workflow);
  for (const m of text.matchAll(/\binput\.([A-Za-z_$][\w$]*)/g)) takers.add(m[1]);
  for (const m of text.matchAll(/\binput\[\s*\\?["']([^"'\\]+)\\?["']\s*\]/g)) takers.add(m[1]);
  const closed = isRecord(workflow.inputs) && workflow.inputs.additionalProperties === false;
  return given
    .filter((name) => !takers.has(name))
    .map((name) => ({
      code: 'unknown_input' as const,
      path: formatPath(['input', name]),
      message: `run input "${name}" is not used: the workflow's inputs do not declare it, no template reads it and no task's tool takes a field of that name`,
      hint:
        didYouMean(name, takers) ??
        (Object.keys(declared).length ? `its inputs are: ${Object.keys(declared).join(', ')}` : 'remove it'),
      severity: closed ? ('error' as const) : ('warning' as const),
    }));
}
