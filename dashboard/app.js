// The dashboard's shell: navigation, the hash router, and the token dialog (shown when the API answers 401).
import { html, render, useEffect, useRef, useState } from './vendor/preact-htm.js';
import { getJson, setUnauthorizedHandler, token } from './api.js';
import { ChatPage } from './chat-page.js';
import { RunPage } from './run-page.js';
import { RunsPage } from './runs-page.js';
import { TriggersPage } from './triggers-page.js';
import { WorkflowPage, WorkflowsPage } from './workflows-page.js';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const [path, search = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(search) };
}

function TokenDialog({ onDone }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState();
  const field = useRef();
  useEffect(() => field.current?.focus(), []);
  const submit = async (e) => {
    e.preventDefault();
    token.set(value.trim());
    try {
      await getJson('/workflows');
      onDone();
    } catch (err) {
      setError(err.status === 401 ? 'The server did not accept this token.' : err.message);
    }
  };
  return html`<div class="modal-backdrop">
    <form class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit=${submit}>
      <h2 id="token-title">This server needs a token</h2>
      <p>It was started with <code>BRAID_TOKEN</code>. Enter that token; this browser remembers it for this server.</p>
      <label for="token-input">Token</label>
      <input id="token-input" ref=${field} type="password" autocomplete="current-password" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'token-error' : undefined} />
      ${error ? html`<p id="token-error" class="field-error" role="alert">${error}</p>` : null}
      <button type="submit" class="primary" disabled=${!value.trim()}>Use this token</button>
    </form>
  </div>`;
}

function App() {
  const [route, setRoute] = useState(parseHash);
  const [needToken, setNeedToken] = useState(false);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const onHash = () => setRoute(parseHash());
    window.addEventListener('hashchange', onHash);
    setUnauthorizedHandler(() => setNeedToken(true));
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    // Move focus to the new page's heading, so keyboard and screen reader users land on it.
    const t = setTimeout(() => {
      const h = document.querySelector('main h2');
      if (h && !document.activeElement?.closest?.('main'))
        (h.setAttribute('tabindex', '-1'), h.focus({ preventScroll: true }));
    }, 150);
    return () => clearTimeout(t);
  }, [route.parts.join('/')]);

  const { parts, query } = route;
  const section = parts[0] ?? 'runs';
  let page;
  if (section === 'runs' && parts[1])
    page = html`<${RunPage} key=${parts[1]} runId=${parts[1]} task=${query.get('task') ?? undefined} />`;
  else if (section === 'workflows' && parts[1])
    page = html`<${WorkflowPage} key=${parts[1]} name=${parts[1]} query=${query} />`;
  else if (section === 'workflows') page = html`<${WorkflowsPage} />`;
  else if (section === 'chat') page = html`<${ChatPage} />`;
  else if (section === 'triggers') page = html`<${TriggersPage} />`;
  else page = html`<${RunsPage} query=${query} />`;
  const nav = (name, label) =>
    html`<a href=${`#/${name}`} aria-current=${section === name ? 'page' : undefined}>${label}</a>`;

  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <h1><a href="#/runs">braid</a></h1>
      <nav aria-label="sections">${nav('runs', 'Runs')}${nav('workflows', 'Workflows')}${nav('triggers', 'Triggers')}${nav('chat', 'Chat')}</nav>
      ${token.get() ? html`<button type="button" class="link" onClick=${() => (token.set(''), setNeedToken(true))}>Forget token</button>` : null}
    </header>
    <main id="main" tabindex="-1" key=${generation}>${needToken ? null : page}</main>
    ${needToken ? html`<${TokenDialog} onDone=${() => (setNeedToken(false), setGeneration((g) => g + 1))} />` : null}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
