// One task of a run: why it ran or not, its input, output, label, attempts with errors and stacks,
// LLM calls, logs, and the approve/reject buttons while it waits.
import { html, useEffect, useState } from './vendor/preact-htm.js';
import { getJson } from './api.js';
import { itemProgress } from './model.js';
import { ErrorBox, Json, StatusBadge, fmtCost, fmtDuration, fmtTime, fmtTokens, runLink } from './ui.js';

function Why({ runId, taskId, stamp }) {
  const [lines, setLines] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    const abort = new AbortController();
    setError(undefined);
    getJson(`/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}/explain`, abort.signal).then(
      (r) => setLines(r.lines),
      (err) => abort.signal.aborted || setError(err),
    );
    return () => abort.abort();
  }, [runId, taskId, stamp]);
  if (error) return html`<${ErrorBox} error=${error} title="why" />`;
  if (!lines) return html`<p class="muted">asking why…</p>`;
  return html`<div class="why" aria-live="polite">${lines.map((l) => html`<p class=${l.startsWith('  ') || l.includes('\n') ? 'why-more' : ''}>${l}</p>`)}</div>`;
}

function Attempts({ task }) {
  if (!task.attempts.length)
    return html`<p class="muted">no attempts${task.status === 'skipped' ? ' (skipped before it ran)' : ''}</p>`;
  return html`<table class="small">
    <thead><tr><th scope="col">#</th><th scope="col">visit</th>${task.items.size ? html`<th scope="col">item</th>` : null}<th scope="col">status</th><th scope="col">took</th><th scope="col">error</th></tr></thead>
    <tbody>
      ${task.attempts.map(
        (a) => html`<tr class=${`attempt st-${a.status}`}>
          <td>${a.attempt}</td><td>${a.visit}</td>${task.items.size ? html`<td>${a.item ?? ''}</td>` : null}
          <td><${StatusBadge} status=${a.status} />${a.tool && a.tool !== task.tool ? html` <small>(${a.tool})</small>` : null}</td>
          <td>${a.endedAt ? fmtDuration(Date.parse(a.endedAt) - Date.parse(a.startedAt)) : '…'}</td>
          <td>${a.error ? html`<span class="error-message">${a.error.message}</span>${a.error.code ? html` <code>${a.error.code}</code>` : null}${a.error.stack ? html`<details class="stack"><summary>stack</summary><pre>${a.error.stack}</pre></details>` : null}` : ''}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function LlmCalls({ calls }) {
  if (!calls.length) return null;
  return html`<section><h4>LLM calls</h4><table class="small">
    <thead><tr><th scope="col">model</th><th scope="col">purpose</th><th scope="col">tokens (in/out)</th><th scope="col">cost</th><th scope="col">latency</th></tr></thead>
    <tbody>${calls.map((c) => html`<tr><td>${c.provider}/${c.model}</td><td>${c.purpose}${c.error ? html` <span class="error-message">${c.error.message}</span>` : null}</td><td>${fmtTokens(c.usage.totalTokens)} (${c.usage.promptTokens}/${c.usage.completionTokens})</td><td>${fmtCost(c.usage.costUsd, c.usage.costUsd === null)}</td><td>${fmtDuration(c.latencyMs)}</td></tr>`)}</tbody>
  </table></section>`;
}

export function TaskPanel({ runId, run, version, spec, taskId, onApprove, busy, onClose }) {
  const t = run.tasks.get(taskId);
  if (!t) return html`<aside class="task-panel"><p class="muted">no task "${taskId}" in this run</p></aside>`;
  const items = itemProgress(t);
  const children = run.children.filter((c) => c.taskId === taskId);
  return html`<aside class="task-panel" aria-label=${`task ${taskId}`} data-task=${taskId}>
    <header>
      <h3 id="task-title">${taskId}</h3>
      <${StatusBadge} status=${t.status} />
      <button type="button" class="close" onClick=${onClose} aria-label="close the task panel">×</button>
    </header>
    <p class="muted">tool <code>${t.tool ?? spec?.tool}</code>${t.visits > 1 ? ` · ${t.visits} visits` : ''} · ${t.attempts.length} attempt${t.attempts.length === 1 ? '' : 's'}${items.total ? ` · ${items.done}/${items.total} items` : ''}${t.usage.calls ? ` · ${fmtTokens(t.usage.totalTokens)} tokens · ${fmtCost(t.usage.costUsd, t.usage.unpriced)}` : ''}</p>
    ${spec?.description ? html`<p>${spec.description}</p>` : null}
    ${
      t.status === 'waiting'
        ? html`<div class="approve-box" role="group" aria-label="approval">
          <p><strong>Waiting for your approval.</strong> The rest of the run goes on once you decide.</p>
          <button type="button" class="primary" disabled=${busy} onClick=${() => onApprove(taskId, true)}>Approve</button>
          <button type="button" class="danger" disabled=${busy} onClick=${() => onApprove(taskId, false)}>Reject</button>
        </div>`
        : null
    }
    ${t.approval ? html`<p>${t.approval.approved ? 'Approved' : 'Rejected'}${t.approval.by ? ` by ${t.approval.by}` : ''} at ${fmtTime(t.approval.ts)}${t.approval.comment ? `: ${t.approval.comment}` : ''}</p>` : null}
    <section><h4>Why</h4><${Why} runId=${runId} taskId=${taskId} stamp=${`${t.status}:${t.visits}:${t.attempts.length}:${run.status}`} /></section>
    ${t.label ? html`<section><h4>Label</h4><p><strong class="label">${t.label}</strong> from ${t.labelSource}${t.labelReason ? html`: <span class="label-reason">${t.labelReason}</span>` : null}</p></section>` : null}
    ${
      t.error
        ? html`<section class="task-error"><h4>Error</h4><${ErrorBox} error=${t.error} />${t.error.stack ? html`<details class="stack" open><summary>stack (tool code)</summary><pre>${t.error.stack}</pre></details>` : null}</section>`
        : null
    }
    <section><h4>Input</h4>
      ${t.inputHash !== undefined ? html`<p class="muted">as received (its latest attempt${t.receivedBytes ? `; ${t.receivedBytes} bytes, cut in the record` : ''}; hash ${t.inputHash.slice(0, 12)})</p><${Json} value=${t.received} label="received input" />` : null}
      ${spec && 'input' in spec ? html`<p class="muted">as written (templates are filled when the task starts)</p><${Json} value=${spec.input} label="input" />` : html`<p class="muted">none written</p>`}
      ${t.sources ? html`<p>Fields taken from elsewhere: ${Object.entries(t.sources).map(([k, v]) => html`<code>${k}</code> ← ${v} `)}</p>` : null}
      ${t.recoveries.map((r) => html`<p>After attempt ${r.attempt}: <strong>${r.action}</strong>${r.tool ? ` to ${r.tool}` : ''} (${r.error?.message})${r.input ? html`, new input:<${Json} value=${r.input} />` : ''}</p>`)}
    </section>
    ${t.hasOutput ? html`<section><h4>Output</h4><${Json} value=${t.output} label="output" /></section>` : null}
    <section><h4>Attempts</h4><${Attempts} task=${t} /></section>
    <${LlmCalls} calls=${t.llm} />
    ${children.length ? html`<section><h4>Child runs</h4>${children.map((c) => html`<p><a href=${runLink(c.childRunId)}>${c.childRunId}</a></p>`)}</section>` : null}
    ${
      t.logs.length
        ? html`<section><h4>Logs</h4><ol class="logs">${t.logs.slice(-200).map((l) => html`<li class=${`log-${l.level}`}><time>${l.ts.slice(11, 23)}</time> <span class="level">${l.level}</span> ${l.message}${l.fields ? ` ${JSON.stringify(l.fields)}` : ''}</li>`)}</ol></section>`
        : null
    }
  </aside>`;
}
