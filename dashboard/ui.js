// Small shared pieces: formatting, status badges, JSON blocks, error boxes, navigation.
import { html } from './vendor/preact-htm.js';

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : `${d.toLocaleDateString()} ${d.toLocaleTimeString()}`;
}

export const fmtTokens = (n) => (n ? n.toLocaleString('en-US') : '–');
/** USD; `unpriced`: some calls had no known price (so the sum is a lower bound). */
export const fmtCost = (usd, unpriced) =>
  usd ? `$${usd.toFixed(4)}${unpriced ? '+' : ''}` : unpriced ? 'unpriced' : usd === 0 ? '$0' : '–';

export const STATUS_TEXT = {
  succeeded: 'succeeded',
  failed: 'failed',
  skipped: 'skipped',
  running: 'running',
  pending: 'pending',
  waiting: 'waiting',
  cancelled: 'cancelled',
  interrupted: 'interrupted',
  retrying: 'retrying',
};

export function StatusBadge({ status }) {
  return html`<span class=${`badge st-${status}`} data-status=${status}>${STATUS_TEXT[status] ?? status}</span>`;
}

/** Pretty JSON in a scrollable block; very long values are cut (the API has them whole). */
export function Json({ value, label }) {
  let text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  if (text && text.length > 20_000)
    text = `${text.slice(0, 20_000)}\n… (${text.length.toLocaleString('en-US')} characters; the API returns it whole)`;
  return html`<pre class="json" tabindex="0" aria-label=${label ?? 'JSON'}>${text}</pre>`;
}

export function ErrorBox({ error, title }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">
    ${title ? html`<strong>${title}: </strong>` : null}<span class="error-message">${error.message}</span>${error.code ? html` <code>${error.code}</code>` : null}
  </div>`;
}

export const go = (hash) => {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
};

export const runLink = (runId, task) =>
  `#/runs/${encodeURIComponent(runId)}${task ? `?task=${encodeURIComponent(task)}` : ''}`;
