// The runs, newest first, live (`GET /runs` as an event stream): every run of the store, whichever
// process recorded it. Filters by status and workflow.
import { html, useEffect, useState } from './vendor/preact-htm.js';
import { followEvents, getJson } from './api.js';
import { ErrorBox, StatusBadge, fmtCost, fmtDuration, fmtTime, fmtTokens, runLink } from './ui.js';

const STATUSES = ['running', 'waiting', 'succeeded', 'failed', 'cancelled', 'interrupted'];

function useClock() {
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
}

export function RunsPage({ query }) {
  const status = query.get('status') ?? '';
  const workflow = query.get('workflow') ?? '';
  const [runs, setRuns] = useState();
  const [error, setError] = useState();
  const [workflows, setWorkflows] = useState([]);
  useClock();

  useEffect(() => {
    const abort = new AbortController();
    getJson('/workflows', abort.signal).then(
      (r) => setWorkflows(r.workflows.map((w) => w.name)),
      () => {},
    );
    return () => abort.abort();
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    const q = new URLSearchParams({ ...(status ? { status } : {}), ...(workflow ? { workflow } : {}), limit: '200' });
    setRuns(undefined);
    followEvents(`/runs?${q}`, {
      signal: abort.signal,
      onEvent: (type, data) => type === 'runs' && (setRuns(data.runs), setError(undefined)),
      onError: (err) => err && setError(err),
    });
    return () => abort.abort();
  }, [status, workflow]);

  const setFilter = (key, value) => {
    const q = new URLSearchParams(query);
    value ? q.set(key, value) : q.delete(key);
    location.hash = `#/runs${q.size ? `?${q}` : ''}`;
  };
  const names = [...new Set([...workflows, ...(runs ?? []).map((r) => r.workflow)])].filter(Boolean).sort();

  return html`<section aria-labelledby="runs-title">
    <div class="page-head">
      <h2 id="runs-title">Runs</h2>
      <form class="filters" onSubmit=${(e) => e.preventDefault()}>
        <label>Status <select id="filter-status" value=${status} onChange=${(e) => setFilter('status', e.currentTarget.value)}>
          <option value="">any</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></label>
        <label>Workflow <select id="filter-workflow" value=${workflow} onChange=${(e) => setFilter('workflow', e.currentTarget.value)}>
          <option value="">any</option>${names.map((w) => html`<option value=${w}>${w}</option>`)}
        </select></label>
      </form>
    </div>
    ${error ? html`<${ErrorBox} error=${error} title="runs" />` : null}
    ${
      !runs
        ? html`<p class="muted" role="status">loading…</p>`
        : !runs.length
          ? html`<p class="muted">No runs${status || workflow ? ' match these filters' : ' yet'}. Start one from <a href="#/workflows">Workflows</a> or the <a href="#/chat">Chat</a>.</p>`
          : html`<div class="table-scroll"><table class="runs">
          <thead><tr><th scope="col">run</th><th scope="col">workflow</th><th scope="col">status</th><th scope="col">started</th><th scope="col">duration</th><th scope="col">tasks</th><th scope="col">tokens</th><th scope="col">cost</th></tr></thead>
          <tbody>
            ${runs.map((r) => {
              const took = r.durationMs ?? (r.status === 'running' ? Date.now() - Date.parse(r.startedAt) : undefined);
              const by = r.tasks.byStatus;
              return html`<tr key=${r.runId} data-run=${r.runId} data-status=${r.status}>
                <td><a href=${runLink(r.runId)}><code>${r.runId}</code></a>${r.parentRunId ? html` <small class="muted">child of <a href=${runLink(r.parentRunId)}>${r.parentRunId}</a></small>` : null}${r.trigger ? html` <small class="muted" data-trigger=${r.trigger.name}>started by <a href="#/triggers">${r.trigger.name}</a> ${r.trigger.due ?? r.trigger.eventId ?? ''}</small>` : null}</td>
                <td>${r.workflow}</td>
                <td><${StatusBadge} status=${r.status} /></td>
                <td>${fmtTime(r.startedAt)}</td>
                <td>${fmtDuration(took)}</td>
                <td title=${Object.entries(by)
                  .map(([s, k]) => `${k} ${s}`)
                  .join(
                    ', ',
                  )}><span class="tasks-done">${r.tasks.done}/${r.tasks.total}</span>${by.failed ? html` <span class="st-text-failed">${by.failed} failed</span>` : null}${by.waiting ? html` <span class="st-text-waiting">${by.waiting} waiting</span>` : null}${r.tasks.cancelled ? html` <span class="muted">${r.tasks.cancelled} cancelled</span>` : null}</td>
                <td>${fmtTokens(r.usage?.totalTokens)}</td>
                <td>${fmtCost(r.usage?.costUsd, r.usage && r.usage.costUsd === null)}</td>
              </tr>`;
            })}
          </tbody>
        </table></div>`
    }
  </section>`;
}
