// Lays a workflow graph out with dagre off the main thread (a graph of 1,000 tasks takes a second or two).
import dagre from './vendor/dagre.js';

self.onmessage = ({ data }) => {
  const { id, nodes, edges } = data;
  try {
    self.postMessage({ id, layout: layout(nodes, edges) });
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};

/** nodes: [{id, width, height}]; edges: [{from, to, label?}] → positions, edge points, label spots. */
function layout(nodes, edges) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  const big = nodes.length > 300;
  g.setGraph({ rankdir: 'TB', nodesep: big ? 14 : 28, ranksep: big ? 36 : 46, edgesep: 12, marginx: 16, marginy: 16 });
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  edges.forEach((e, i) => {
    if (!g.hasNode(e.from) || !g.hasNode(e.to)) return;
    const label = e.label ? { width: e.label.length * 6.6 + 10, height: 16, labelpos: 'c' } : {};
    g.setEdge(e.from, e.to, { ...label, i }, String(i));
  });
  dagre.layout(g);
  const out = { width: g.graph().width ?? 0, height: g.graph().height ?? 0, nodes: {}, edges: [] };
  for (const id of g.nodes()) {
    const n = g.node(id);
    out.nodes[id] = { x: n.x, y: n.y, width: n.width, height: n.height };
  }
  for (const e of g.edges()) {
    const v = g.edge(e);
    out.edges[v.i] = { points: v.points, x: v.x, y: v.y };
  }
  return out;
}
