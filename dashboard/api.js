// The dashboard's only way to the server: the public HTTP API, with the bearer token when one is set.
// Errors keep the API's shape: `ApiError` carries `status`, `code`, `message`, `path` and `issues`.

const TOKEN_KEY = 'braid.token';

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) || '',
  set: (value) => (value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY)),
};

/** Called when the server answers 401: the app asks for the token. */
let onUnauthorized = () => {};
export const setUnauthorizedHandler = (fn) => (onUnauthorized = fn);

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || `HTTP_${status}`;
    this.path = e.path;
    this.issues = e.issues ?? [];
  }
}

function headers(extra = {}) {
  const t = token.get();
  return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
}

async function check(res) {
  if (res.ok) return res;
  const body = await res.json().catch(() => undefined);
  if (res.status === 401) onUnauthorized();
  throw new ApiError(res.status, body);
}

export async function getJson(path, signal) {
  const res = await check(await fetch(path, { headers: headers(), signal }));
  return res.json();
}

export async function postJson(path, body = {}, signal) {
  const res = await check(
    await fetch(path, {
      method: 'POST',
      headers: headers({ 'content-type': 'application/json' }),
      body: JSON.stringify(body),
      signal,
    }),
  );
  return res.json();
}

/**
 * Read a `text/event-stream` response (GET or POST) and call `onEvent(type, data, id)` per event, `data`
 * parsed as JSON. `fetch` rather than `EventSource`, which cannot send the Authorization header.
 * Resolves when the stream ends; rejects with `ApiError` on an HTTP error.
 */
export async function readEvents(path, { method = 'GET', body, lastEventId, signal, onEvent }) {
  const res = await check(
    await fetch(path, {
      method,
      signal,
      headers: headers({
        accept: 'text/event-stream',
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(lastEventId ? { 'last-event-id': String(lastEventId) } : {}),
      }),
      ...(body ? { body: JSON.stringify(body) } : {}),
    }),
  );
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + (buffer[cut] === '\r' ? 4 : 2));
      dispatch(block, onEvent);
    }
  }
}

function dispatch(block, onEvent) {
  let type = 'message';
  let id;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (!data.length) return;
  let parsed;
  try {
    parsed = JSON.parse(data.join('\n'));
  } catch {
    parsed = data.join('\n');
  }
  onEvent(type, parsed, id);
}

/**
 * Keep an event stream open: reconnect after a dropped connection (with `Last-Event-ID`, so nothing is
 * missed or repeated) until `signal` aborts or `shouldStop()` says the stream has nothing more to give.
 */
export async function followEvents(
  path,
  { signal, onEvent, onError, after, shouldStop = () => false, retryMs = 2000 },
) {
  let lastEventId = after || undefined;
  while (!signal.aborted) {
    try {
      await readEvents(path, {
        signal,
        lastEventId,
        onEvent: (type, data, id) => {
          if (id) lastEventId = id;
          onEvent(type, data, id);
        },
      });
      onError?.(undefined);
      if (shouldStop()) return;
    } catch (err) {
      if (signal.aborted) return;
      onError?.(err);
      if (err instanceof ApiError && err.status < 500) return;
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
