// A run: its graph with live statuses, the timeline, the selected task, the output, child runs, and the
// buttons (cancel, approve/reject, resume, run again, edit the input and run).
import { html, useEffect, useState } from './vendor/preact-htm.js';
import { postJson } from './api.js';
import { Graph } from './graph.js';
import { counts } from './model.js';
import { useRunData } from './run-data.js';
import { TaskPanel } from './task-panel.js';
import { Timeline } from './timeline.js';
import { ErrorBox, Json, StatusBadge, fmtCost, fmtDuration, fmtTime, fmtTokens, go, runLink } from './ui.js';

const enc = encodeURIComponent;

/** Redraw every second while something runs (durations grow). */
function useClock(on) {
  const [, setNow] = useState(0);
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
}

function ChildRun({ childRunId, taskId }) {
  const { def, run, status, version, error } = useRunData(childRunId);
  return html`<details class="child-run" open>
    <summary>child run <a href=${runLink(childRunId)}>${childRunId}</a> of task <code>${taskId}</code> ${status ? html`<${StatusBadge} status=${status} />` : null}</summary>
    ${error ? html`<${ErrorBox} error=${error} title="child run" />` : def && run ? html`<${Graph} graph=${def.graph} run=${run} version=${version} label=${`graph of child run ${childRunId}`} onSelect=${(id) => go(runLink(childRunId, id))} />` : html`<p class="muted">loading…</p>`}
  </details>`;
}

export function RunPage({ runId, task }) {
  const { def, run, status, version, error, streamError, reconnect } = useRunData(runId);
  const [actionError, setActionError] = useState();
  const [busy, setBusy] = useState(false);
  const [find, setFind] = useState('');
  useClock(status === 'running');
  useEffect(() => setActionError(undefined), [runId]);

  const select = (id) => go(runLink(runId, id === task ? undefined : id));
  const act = async (fn) => {
    setBusy(true);
    setActionError(undefined);
    try {
      await fn();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };
  const cancel = () => act(() => postJson(`/runs/${enc(runId)}/cancel`));
  const resume = () => act(async () => (await postJson(`/runs/${enc(runId)}/resume`), reconnect()));
  const approve = (taskId, approved) =>
    act(
      async () => (
        await postJson(`/runs/${enc(runId)}/approve`, approved ? { taskId } : { taskId, reject: true }),
        reconnect()
      ),
    );
  const again = () =>
    act(async () => go(runLink((await postJson('/runs', { workflow: def.name, input: def.input ?? {} })).runId)));

  if (error)
    return html`<section><h2>Run ${runId}</h2><${ErrorBox} error=${error} /><p><a href="#/runs">all runs</a></p></section>`;
  if (!def || !run) return html`<section><h2>Run ${runId}</h2><p class="muted" role="status">loading…</p></section>`;

  const n = counts(run);
  const total = run.tasks.size;
  // A cancel stops tasks without finishing them (skipped, reason cancelled): they are not done.
  const cancelled = [...run.tasks.values()].filter((t) => t.status === 'skipped' && t.reason === 'cancelled').length;
  const done = (n.succeeded ?? 0) + (n.failed ?? 0) + (n.skipped ?? 0) - cancelled;
  const started = run.startedAt;
  const took = started ? (run.endedAt ? Date.parse(run.endedAt) : Date.now()) - Date.parse(started) : undefined;
  const waiting = [...run.tasks.values()].filter((t) => t.status === 'waiting');
  const spec = new Map(def.definition.tasks.map((t) => [t.id, t]));
  const selected = task && run.tasks.has(task) ? task : undefined;

  return html`<section class="run-page" aria-labelledby="run-title" data-status=${status}>
    <header class="run-head">
      <div>
        <h2 id="run-title">${def.name} <${StatusBadge} status=${status} /></h2>
        <p class="muted">run <code>${runId}</code> · started ${fmtTime(started)} · ${status === 'running' ? 'running for' : 'took'} ${fmtDuration(took)} · tasks <span class="tasks-done">${done}/${total}</span> done${cancelled ? `, ${cancelled} cancelled` : ''}
          ${run.usage.calls ? ` · ${fmtTokens(run.usage.totalTokens)} tokens · ${fmtCost(run.usage.costUsd, run.usage.unpriced)}` : ''}</p>
      </div>
      <div class="actions">
        ${status === 'running' ? html`<button type="button" class="danger" disabled=${busy} onClick=${cancel}>Cancel</button>` : null}
        ${['failed', 'cancelled', 'interrupted'].includes(status) ? html`<button type="button" class="primary" disabled=${busy} onClick=${resume}>Resume</button>` : null}
        <button type="button" disabled=${busy} onClick=${again}>Run again</button>
        <a class="button" href=${`#/workflows/${enc(def.name)}?from=${enc(runId)}`}>Edit input and run…</a>
      </div>
    </header>
    ${actionError ? html`<${ErrorBox} error=${actionError} title="the server said" />` : null}
    ${streamError ? html`<p class="muted" role="status">event stream: ${streamError.message}; reconnecting…</p>` : null}
    ${waiting.map(
      (t) => html`<div class="banner waiting" role="group" aria-label=${`approval for ${t.id}`}>
        <span>Task <a href=${runLink(runId, t.id)}><code>${t.id}</code></a> is waiting for your approval.</span>
        <button type="button" class="primary approve" data-task=${t.id} disabled=${busy} onClick=${() => approve(t.id, true)}>Approve</button>
        <button type="button" class="danger reject" data-task=${t.id} disabled=${busy} onClick=${() => approve(t.id, false)}>Reject</button>
      </div>`,
    )}
    ${run.error ? html`<${ErrorBox} error=${run.error} title="run" />` : null}
    <div class=${`run-main${selected ? ' with-panel' : ''}`}>
      <div class="run-left">
        <${Graph} graph=${def.graph} run=${run} version=${version} selected=${selected} onSelect=${select} label=${`graph of ${def.name}`} />
        <form class="find" onSubmit=${(e) => (e.preventDefault(), run.tasks.has(find) && select(find))}>
          <label for="find-task">Find a task</label>
          <input id="find-task" list="task-ids" value=${find} onInput=${(e) => setFind(e.currentTarget.value)} placeholder="task id" autocomplete="off" />
          <datalist id="task-ids">${total <= 5000 ? run.order.map((id) => html`<option value=${id} />`) : null}</datalist>
          <button type="submit">Show</button>
        </form>
        <${Timeline} run=${run} version=${version} selected=${selected} onSelect=${select} />
      </div>
      ${selected ? html`<${TaskPanel} runId=${runId} run=${run} version=${version} spec=${spec.get(selected)} taskId=${selected} onApprove=${approve} busy=${busy} onClose=${() => go(runLink(runId))} />` : html`<aside class="task-panel hint"><p class="muted">Select a task in the graph or the timeline to see its input, output, attempts, LLM calls, logs and why it ran or not.</p></aside>`}
    </div>
    ${run.hasOutput ? html`<section class="run-output"><h3>Output</h3><${Json} value=${run.output} label="run output" /></section>` : null}
    <section class="run-input"><h3>Input</h3><${Json} value=${def.input} label="run input" /></section>
    ${run.children.length ? html`<section class="children"><h3>Child runs</h3>${run.children.map((c) => html`<${ChildRun} key=${c.childRunId} childRunId=${c.childRunId} taskId=${c.taskId} />`)}</section>` : null}
  </section>`;
}
