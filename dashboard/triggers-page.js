// The triggers of the server's workflows (`GET /triggers`, workflow-spec.md §10): each one's state, next fire
// times and last fire, with pause, resume and "fire now" (a schedule's due time is still fired at most once).
import { html, useEffect, useState } from './vendor/preact-htm.js';
import { getJson, postJson } from './api.js';
import { ErrorBox, fmtTime, runLink } from './ui.js';

const enc = encodeURIComponent;

function when(t) {
  if (t.kind === 'schedule') return html`<code>${t.cron}</code> <small class="muted">${t.timezone}</small>`;
  if (t.kind === 'webhook') return html`<code>POST /hooks/${t.path}</code>`;
  return html`event <code>${t.event}</code>`;
}

function LastFire({ last }) {
  if (!last) return html`<span class="muted">–</span>`;
  return html`<span>${fmtTime(last.due ?? last.at)}${last.eventId ? html` <small class="muted">${last.eventId}</small>` : null}</span>
    ${last.skipped ? html`<br /><small class="muted">skipped: ${last.skipped}</small>` : null}
    ${last.runIds.map((id) => html`<br /><a href=${runLink(id)}><code>${id}</code></a>`)}`;
}

export function TriggersPage() {
  const [triggers, setTriggers] = useState();
  const [error, setError] = useState();
  const [busy, setBusy] = useState('');
  const load = async (signal) => {
    try {
      setTriggers((await getJson('/triggers', signal)).triggers);
      setError(undefined);
    } catch (err) {
      if (err.name !== 'AbortError') setError(err);
    }
  };
  useEffect(() => {
    const abort = new AbortController();
    load(abort.signal);
    const t = setInterval(() => load(abort.signal), 5000);
    return () => (abort.abort(), clearInterval(t));
  }, []);
  const act = (id, verb) => async () => {
    setBusy(`${id}:${verb}`);
    try {
      await postJson(`/triggers/${enc(id)}/${verb}`, {});
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy('');
    }
  };

  return html`<section aria-labelledby="triggers-title">
    <div class="page-head"><h2 id="triggers-title">Triggers</h2></div>
    <p class="muted">Runs that start themselves: schedules, events and webhooks of this server's workflows.</p>
    ${error ? html`<${ErrorBox} error=${error} title="triggers" />` : null}
    ${
      !triggers
        ? html`<p class="muted" role="status">loading…</p>`
        : !triggers.length
          ? html`<p class="muted">No triggers: none of this server's workflows has <code>triggers:</code>.</p>`
          : html`<div class="table-scroll"><table class="triggers">
          <thead><tr><th scope="col">trigger</th><th scope="col">on</th><th scope="col">state</th><th scope="col">next</th><th scope="col">last</th><th scope="col"><span class="sr-only">actions</span></th></tr></thead>
          <tbody>
            ${triggers.map(
              (t) => html`<tr key=${t.id} data-trigger=${t.id} data-state=${t.state}>
                <td><a href=${`#/workflows/${enc(t.workflow)}`}>${t.workflow}</a>:<strong>${t.name}</strong></td>
                <td>${when(t)}</td>
                <td>${t.state}</td>
                <td>${t.next.length ? t.next.map((n, i) => html`${i ? html`<br />` : null}${fmtTime(n)}`) : html`<span class="muted">–</span>`}</td>
                <td><${LastFire} last=${t.last} /></td>
                <td>
                  <button type="button" disabled=${busy !== ''} onClick=${act(t.id, t.state === 'paused' ? 'resume' : 'pause')}>${t.state === 'paused' ? 'Resume' : 'Pause'}</button>
                  ${t.kind === 'schedule' ? html` <button type="button" disabled=${busy !== ''} onClick=${act(t.id, 'fire')}>Fire now</button>` : null}
                </td>
              </tr>`,
            )}
          </tbody>
        </table></div>`
    }
  </section>`;
}
