// The catalog: each workflow with its description and graph, and a Run form made from its inputs schema.
import { html, useEffect, useState } from './vendor/preact-htm.js';
import { getJson, postJson } from './api.js';
import { Graph } from './graph.js';
import { SchemaForm } from './schema-form.js';
import { ErrorBox, go, runLink } from './ui.js';

const enc = encodeURIComponent;

export function WorkflowsPage() {
  const [list, setList] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    const abort = new AbortController();
    getJson('/workflows', abort.signal).then(setList, (err) => abort.signal.aborted || setError(err));
    return () => abort.abort();
  }, []);
  if (error) return html`<${ErrorBox} error=${error} title="workflows" />`;
  if (!list) return html`<p class="muted" role="status">loading…</p>`;
  return html`<section aria-labelledby="wf-title">
    <h2 id="wf-title">Workflows</h2>
    ${list.workflows.length ? null : html`<p class="muted">No workflows in this server's folder.</p>`}
    <ul class="cards">
      ${list.workflows.map(
        (w) => html`<li class="card" data-workflow=${w.name}>
          <h3><a href=${`#/workflows/${enc(w.name)}`}>${w.name}</a></h3>
          <p>${w.description}</p>
          <p class="muted">${w.tasks} task${w.tasks === 1 ? '' : 's'}${w.confirm ? ' · asks before running' : ''}</p>
          <a class="button primary" href=${`#/workflows/${enc(w.name)}`} aria-label=${`Run ${w.name}…`}>Run…</a>
        </li>`,
      )}
    </ul>
    ${list.problems?.length ? html`<details class="problems"><summary>${list.problems.length} workflow file${list.problems.length === 1 ? '' : 's'} could not be loaded</summary><pre>${list.problems.join('\n\n')}</pre></details>` : null}
  </section>`;
}

export function WorkflowPage({ name, query }) {
  const from = query.get('from');
  const [wf, setWf] = useState();
  const [given, setGiven] = useState();
  const [error, setError] = useState();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    (setWf(undefined), setGiven(undefined), setError(undefined));
    getJson(`/workflows/${enc(name)}`, abort.signal).then(setWf, (err) => abort.signal.aborted || setError(err));
    // "Edit input and run" from a run page: that run's input.
    if (from)
      getJson(`/runs/${enc(from)}/workflow`, abort.signal).then(
        (r) => setGiven(r.input),
        (err) => abort.signal.aborted || setError(err),
      );
    return () => abort.abort();
  }, [name, from]);

  const start = async (input) => {
    setBusy(true);
    try {
      const res = await postJson('/runs', { workflow: name, input });
      go(runLink(res.runId));
    } finally {
      setBusy(false);
    }
  };

  if (error)
    return html`<section><h2>${name}</h2><${ErrorBox} error=${error} /><p><a href="#/workflows">all workflows</a></p></section>`;
  if (!wf || (from && !given))
    return html`<section><h2>${name}</h2><p class="muted" role="status">loading…</p></section>`;
  return html`<section class="workflow-page" aria-labelledby="wf-name">
    <p><a href="#/workflows">← Workflows</a></p>
    <h2 id="wf-name">${wf.name}</h2>
    <p>${wf.description}</p>
    <div class="workflow-main">
      <div class="workflow-graph"><${Graph} graph=${wf.graph} label=${`graph of ${wf.name}`} /></div>
      <div class="workflow-form">
        <h3>Run ${wf.name}${from ? html` <small class="muted">with the input of run ${from}</small>` : null}</h3>
        ${wf.confirm ? html`<p class="muted">This workflow is marked "confirm" (it may send email or act outside): running it from this form is your confirmation.</p>` : null}
        <${SchemaForm} schema=${wf.inputs} values=${given} onSubmit=${start} busy=${busy} submitLabel=${`Run ${wf.name}`} />
      </div>
    </div>
  </section>`;
}
