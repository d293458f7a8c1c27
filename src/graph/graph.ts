/**
 * A workflow as plain nodes and edges: what a drawing (the dashboard's SVG, a Mermaid chart) needs to know
 * about each task and each edge, with the label a reader expects on conditional and routing edges.
 */
import type { Workflow } from '../spec/workflow.js';
import { conditionObject, routesOf, toList } from '../spec/workflow.js';

export interface GraphNode {
  readonly id: string;
  readonly tool: string;
  readonly description?: string;
  /** Pauses for a human decision before it runs. */
  readonly approval?: true;
  /** The expression whose items the task fans out over. */
  readonly forEach?: string;
  /** A JSONata condition that is not tied to an edge (`condition: "<expression>"`). */
  readonly when?: string;
  /** How often routing edges may enter it. */
  readonly maxVisits?: number;
}

/**
 * `data`: a dependency; `condition`: a dependency the task's condition reads (`if good`, `if failed`,
 * `when ...`); `route`: a routing edge (`on success`, `on failure`), which may point back up (a loop).
 */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'data' | 'condition' | 'route';
  readonly label?: string;
}

export interface WorkflowGraph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

export function workflowGraph(workflow: Workflow): WorkflowGraph {
  const nodes: GraphNode[] = workflow.tasks.map((t) => ({
    id: t.id,
    tool: t.tool,
    ...(t.description ? { description: t.description } : {}),
    ...(t.approval ? { approval: true as const } : {}),
    ...(t.for_each ? { forEach: t.for_each } : {}),
    ...(typeof t.condition === 'string' ? { when: t.condition } : {}),
    ...(t.max_visits ? { maxVisits: t.max_visits } : {}),
  }));
  const edges: GraphEdge[] = [];
  for (const t of workflow.tasks) {
    const cond = conditionObject(t);
    const condDeps = new Set(toList(cond?.depends_on));
    for (const d of t.dependencies ?? []) if (!condDeps.has(d)) edges.push({ from: d, to: t.id, kind: 'data' });
    const label =
      cond?.if_result !== undefined
        ? `if ${toList(cond.if_result).join(' or ')}`
        : cond?.if_status
          ? `if ${cond.if_status}`
          : cond?.when
            ? `when ${cond.when}`
            : undefined;
    for (const d of condDeps) edges.push({ from: d, to: t.id, kind: 'condition', ...(label ? { label } : {}) });
    for (const [to, on] of routesOf(t)) edges.push({ from: t.id, to, kind: 'route', label: `on ${on}` });
  }
  return { nodes, edges };
}
