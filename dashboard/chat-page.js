// The chat agent (`POST /chat`, an event stream per turn): it picks a workflow, asks for what is missing,
// asks before running one marked `confirm`, then streams the run's progress with a link to the run page.
// The conversation outlives a visit to another page (it lives in this module until the page reloads).
import { html, useEffect, useRef, useState } from './vendor/preact-htm.js';
import { readEvents } from './api.js';
import { sentenceOf } from './model.js';
import { StatusBadge, runLink } from './ui.js';

const chat = { sessionId: undefined, messages: [], busy: false, listeners: new Set() };
const changed = () => chat.listeners.forEach((l) => l());

/** The events the chat reports, in braid's own sentences (the ones `braid run` prints). */
const SHOWN = new Set([
  'task.started',
  'task.labeled',
  'task.succeeded',
  'task.failed',
  'task.skipped',
  'task.retrying',
  'task.waiting',
  'run.finished',
]);
const describe = (e) => (SHOWN.has(e.type) ? sentenceOf(e) : undefined);

async function send(text) {
  if (!text.trim() || chat.busy) return;
  chat.messages.push({ who: 'you', text });
  chat.busy = true;
  changed();
  let run;
  try {
    await readEvents('/chat', {
      method: 'POST',
      body: { message: text, ...(chat.sessionId ? { sessionId: chat.sessionId } : {}) },
      onEvent: (type, data) => {
        if (type === 'session') chat.sessionId = data.sessionId;
        else if (type === 'text' || type === 'ask') chat.messages.push({ who: 'braid', text: data.text });
        else if (type === 'confirm') chat.messages.push({ who: 'braid', text: data.text, confirm: true });
        else if (type === 'run.started')
          chat.messages.push(
            (run = { who: 'run', runId: data.runId, workflow: data.workflow, lines: [], status: 'running' }),
          );
        else if (type === 'event' && run) {
          const line = describe(data.event);
          if (line) run.lines.push(line);
          if (data.event.type === 'run.finished') run.status = data.event.status;
        } else if (type === 'run.finished' && run) run.status = data.result.status;
        changed();
      },
    });
  } catch (err) {
    chat.messages.push({ who: 'error', text: `${err.message}${err.code ? ` (${err.code})` : ''}` });
  } finally {
    chat.busy = false;
    changed();
  }
}

export function ChatPage() {
  const [, setTick] = useState(0);
  const [draft, setDraft] = useState('');
  const end = useRef();
  const input = useRef();
  useEffect(() => {
    const l = () => setTick((n) => n + 1);
    chat.listeners.add(l);
    return () => chat.listeners.delete(l);
  }, []);
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }));
  const last = chat.messages.at(-1);
  const submit = (e) => {
    e.preventDefault();
    void send(draft);
    setDraft('');
    input.current?.focus();
  };
  return html`<section class="chat" aria-labelledby="chat-title">
    <h2 id="chat-title">Chat</h2>
    <p class="muted">Ask for what you want done; the agent picks a workflow, fills its inputs from what you say, and asks before it runs one that acts outside.</p>
    <ol class="messages" aria-live="polite">
      ${chat.messages.map((m) =>
        m.who === 'run'
          ? html`<li class="msg run" data-run=${m.runId}>
              <p>▶ <a href=${runLink(m.runId)}>${m.workflow} run ${m.runId}</a> <${StatusBadge} status=${m.status} /></p>
              <ul class="progress">${m.lines.map((l) => html`<li>${l}</li>`)}</ul>
            </li>`
          : html`<li class=${`msg ${m.who}`}><span class="who">${m.who}</span> <span class="text">${m.text}</span>
              ${
                m.confirm && m === last && !chat.busy
                  ? html`<span class="confirm-buttons"><button type="button" class="primary" onClick=${() => send('yes')}>Yes, run it</button> <button type="button" onClick=${() => send('no')}>No</button></span>`
                  : null
              }
            </li>`,
      )}
      <li ref=${end} class="sr-only">${chat.busy ? 'braid is answering' : ''}</li>
    </ol>
    <form class="chat-form" onSubmit=${submit}>
      <label for="chat-input" class="sr-only">Message</label>
      <input id="chat-input" ref=${input} value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)} placeholder="e.g. write an email about solar kites to the team" autocomplete="off" />
      <button type="submit" class="primary" disabled=${chat.busy || !draft.trim()}>Send</button>
    </form>
  </section>`;
}
