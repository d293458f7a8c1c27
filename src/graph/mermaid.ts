/** A workflow as a Mermaid flowchart: data edges solid, conditions labelled, routing edges dotted. */
import type { Workflow } from '../spec/workflow.js';
import { conditionObject, routesOf, toList } from '../spec/workflow.js';

const nodeId = (id: string) => `n_${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
const text = (s: string) => s.replace(/"/g, '#quot;');

export function toMermaid(workflow: Workflow, statuses?: Readonly<Record<string, { status: string }>>): string {
  const lines = ['flowchart TD'];
  for (const t of workflow.tasks) {
    const status = statuses?.[t.id]?.status;
    lines.push(`  ${nodeId(t.id)}["${text(t.id)}<br/><small>${text(t.tool)}</small>"]${status ? `:::${status}` : ''}`);
  }
  for (const t of workflow.tasks) {
    const cond = conditionObject(t);
    const condDeps = new Set(toList(cond?.depends_on));
    for (const d of t.dependencies ?? []) if (!condDeps.has(d)) lines.push(`  ${nodeId(d)} --> ${nodeId(t.id)}`);
    for (const d of condDeps) {
      const label = cond?.if_result !== undefined ? `if ${toList(cond.if_result).join(' or ')}` : cond?.if_status ? `if ${cond.if_status}` : cond?.when ? `when ${cond.when}` : '';
      lines.push(label ? `  ${nodeId(d)} -->|"${text(label)}"| ${nodeId(t.id)}` : `  ${nodeId(d)} --> ${nodeId(t.id)}`);
    }
    if (typeof t.condition === 'string') lines.push(`  %% ${t.id} runs when: ${t.condition.replace(/\n/g, ' ')}`);
    for (const [to, on] of routesOf(t)) lines.push(`  ${nodeId(t.id)} -.->|"on ${on}"| ${nodeId(to)}`);
  }
  if (statuses) {
    lines.push('  classDef succeeded fill:#d4f7d4,stroke:#2a2;', '  classDef failed fill:#f7d4d4,stroke:#a22;', '  classDef skipped fill:#eee,stroke:#999,stroke-dasharray:3;');
  }
  return lines.join('\n');
}
