// A workflow graph drawn as SVG: laid out by dagre in a worker, nodes coloured by their live status,
// labels on conditional and routing edges, visit counts, for_each items, skip reasons.
import { Component, html, useEffect, useRef, useState } from './vendor/preact-htm.js';
import { itemProgress } from './model.js';

const NODE_H = 46;
// Wide enough for the id (13px bold), the tool and a status line such as "skipped: condition_false" (11.5px).
const nodeWidth = (n) => Math.min(260, Math.max(n.id.length * 7.8, n.tool.length * 6.6, 156) + 24);
const clip = (text, width, charWidth = 6.1) => {
  const max = Math.floor((width - 20) / charWidth);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

let worker;
let nextId = 0;
const pending = new Map();

/** Layout in the shared worker; resolves with positions. */
function layOut(graph) {
  worker ??= new Worker(new URL('./layout-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    pending.delete(data.id);
    if (p) data.error ? p.reject(new Error(data.error)) : p.resolve(data.layout);
  };
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({
      id,
      nodes: graph.nodes.map((n) => ({ id: n.id, width: nodeWidth(n), height: NODE_H })),
      edges: graph.edges.map((e) => ({ from: e.from, to: e.to, label: e.label })),
    });
  });
}

/** What the second line of a node says, and everything that changes its drawing. */
function nodeFacts(node, t) {
  if (!t) return { status: 'none', line: node.tool, visits: 0 };
  const items = itemProgress(t);
  let line = t.status;
  if (t.status === 'skipped' && t.reason) line = `skipped: ${t.reason}`;
  else if (t.status === 'succeeded' && t.label) line = `succeeded · ${t.label}`;
  else if (t.status === 'waiting') line = 'waiting for approval';
  else if (t.status === 'running' && t.attempts.length > 1) line = `running · attempt ${t.attempts.at(-1).attempt}`;
  if (items.total) line += ` · ${items.done}/${items.total} items`;
  return { status: t.status, line, visits: t.visits };
}

class NodeView extends Component {
  shouldComponentUpdate(next) {
    const a = this.props;
    return (
      a.facts.line !== next.facts.line ||
      a.facts.status !== next.facts.status ||
      a.facts.visits !== next.facts.visits ||
      a.selected !== next.selected ||
      a.pos !== next.pos ||
      a.focusable !== next.focusable
    );
  }

  render({ node, pos, facts, selected, onSelect, focusable }) {
    const { width: w, height: h } = pos;
    const select = () => onSelect?.(node.id);
    const keys = (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') (ev.preventDefault(), select());
    };
    const label = `${node.id}: ${facts.status === 'none' ? `tool ${node.tool}` : facts.line}${facts.visits > 1 ? `, visited ${facts.visits} times` : ''}`;
    return html`<g class=${`node st-${facts.status}${selected ? ' selected' : ''}`} data-task=${node.id} data-status=${facts.status} transform=${`translate(${pos.x - w / 2},${pos.y - h / 2})`}
      role=${onSelect ? 'button' : 'img'} tabindex=${onSelect && focusable ? 0 : undefined} aria-label=${label} aria-pressed=${onSelect ? String(!!selected) : undefined} onClick=${select} onKeyDown=${keys}>
      <title>${node.id} (${node.tool})${node.description ? `: ${node.description}` : ''}${node.when ? `\nruns when: ${node.when}` : ''}${node.forEach ? `\nfor each: ${node.forEach}` : ''}</title>
      <rect width=${w} height=${h} rx="7" />
      <text x="10" y="18" class="node-id">${clip(node.id, w - (node.approval ? 50 : 0), 7.8)}</text>
      <text x="10" y="35" class="node-line">${clip(facts.line, w - (node.forEach && !facts.line.includes('items') ? 30 : 0))}</text>
      ${node.approval ? html`<text x=${w - 8} y="16" class="node-mark approval-mark" text-anchor="end">approval</text>` : null}
      ${node.forEach && !facts.line.includes('items') ? html`<text x=${w - 8} y="35" class="node-mark" text-anchor="end">each</text>` : null}
      ${facts.visits > 1 ? html`<g class="visits" transform=${`translate(${w - 4},-6)`}><rect x="-26" y="0" width="30" height="16" rx="8" /><text x="-11" y="12" text-anchor="middle">×${facts.visits}</text></g>` : null}
    </g>`;
  }
}

function edgePath(points) {
  if (!points?.length) return '';
  let d = `M${points[0].x},${points[0].y}`;
  if (points.length === 2) return `${d}L${points[1].x},${points[1].y}`;
  for (let k = 1; k < points.length - 1; k++) {
    const p = points[k];
    const q = points[k + 1];
    const mid = k === points.length - 2 ? q : { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    d += `Q${p.x},${p.y} ${mid.x},${mid.y}`;
  }
  return d;
}

class Edges extends Component {
  shouldComponentUpdate(next) {
    return next.layout !== this.props.layout || next.routeKey !== this.props.routeKey;
  }

  render({ graph, layout, routes }) {
    return html`<g class="edges">
      ${graph.edges.map((e, i) => {
        const l = layout.edges[i];
        if (!l) return null;
        const taken = e.kind === 'route' ? (routes?.get(`${e.from}->${e.to}`) ?? 0) : 0;
        const text = e.label ? `${e.label}${taken > 1 ? ` ×${taken}` : ''}` : '';
        return html`<g class=${`edge ${e.kind}${taken ? ' taken' : ''}`} data-from=${e.from} data-to=${e.to}>
          <path d=${edgePath(l.points)} marker-end="url(#arrow)" />
          ${text ? html`<text x=${l.x} y=${l.y + 4} text-anchor="middle" class="edge-label">${text}</text>` : null}
        </g>`;
      })}
    </g>`;
  }
}

/**
 * `graph`: {nodes, edges} from the API; `run`: the run model (statuses), or none for a workflow;
 * `version` changes when the run does.
 */
export function Graph({ graph, run, version, selected, onSelect, label }) {
  const [layout, setLayout] = useState();
  const [error, setError] = useState();
  const [scale, setScale] = useState();
  const scroller = useRef();

  useEffect(() => {
    let live = true;
    setLayout(undefined);
    layOut(graph).then(
      (l) => live && setLayout(l),
      (err) => live && setError(err),
    );
    return () => void (live = false);
  }, [graph]);

  const fit = () => {
    const w = scroller.current?.clientWidth ?? 800;
    return layout ? Math.max(0.25, Math.min(1, (w - 8) / layout.width)) : 1;
  };
  useEffect(() => {
    if (layout) setScale(fit());
  }, [layout]);

  // Select a node from elsewhere (the timeline): bring it into view.
  useEffect(() => {
    if (!selected || !layout?.nodes[selected] || !scroller.current) return;
    const p = layout.nodes[selected];
    const s = scale ?? 1;
    const box = scroller.current;
    const x = p.x * s - box.clientWidth / 2;
    const y = p.y * s - box.clientHeight / 2;
    if (
      p.x * s < box.scrollLeft ||
      p.x * s > box.scrollLeft + box.clientWidth ||
      p.y * s < box.scrollTop ||
      p.y * s > box.scrollTop + box.clientHeight
    )
      box.scrollTo({ left: x, top: y });
  }, [selected, layout]);

  const routeKey = run ? [...run.routes.values()].join(',') : '';
  const focusable = graph.nodes.length <= 300;
  if (error) return html`<div class="error-box" role="alert">could not lay out the graph: ${error.message}</div>`;
  if (!layout)
    return html`<div class="graph-wrap"><p class="muted" role="status">laying out ${graph.nodes.length.toLocaleString('en-US')} tasks…</p></div>`;
  const s = scale ?? 1;
  return html`<div class="graph-wrap" data-version=${version}>
    <div class="graph-tools" role="toolbar" aria-label="zoom">
      <button type="button" onClick=${() => setScale(Math.max(0.2, s / 1.25))} aria-label="zoom out">−</button>
      <button type="button" onClick=${() => setScale(fit())} aria-label="fit to width">fit</button>
      <button type="button" onClick=${() => setScale(Math.min(2.5, s * 1.25))} aria-label="zoom in">+</button>
      <span class="muted">${Math.round(s * 100)}%</span>
      ${focusable ? null : html`<span class="muted">${graph.nodes.length.toLocaleString('en-US')} tasks: pick one in the timeline or with the task search</span>`}
    </div>
    <div class="graph-scroll" ref=${scroller}>
      <svg class="graph" width=${layout.width * s} height=${layout.height * s} viewBox=${`0 0 ${layout.width} ${layout.height}`} role="group" aria-label=${label ?? 'workflow graph'}>
        <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" /></marker></defs>
        <${Edges} graph=${graph} layout=${layout} routes=${run?.routes} routeKey=${routeKey} />
        <g class="nodes">
          ${graph.nodes.map((n) => {
            const pos = layout.nodes[n.id];
            return pos
              ? html`<${NodeView} key=${n.id} node=${n} pos=${pos} facts=${nodeFacts(n, run?.tasks.get(n.id))} selected=${selected === n.id} onSelect=${onSelect} focusable=${focusable} />`
              : null;
          })}
        </g>
      </svg>
    </div>
  </div>`;
}
