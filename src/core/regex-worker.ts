/**
 * Regular expressions with a deadline. V8 cannot interrupt a regular expression running in its own thread
 * (a catastrophic one like `(a+)+$` spins for ever, Ctrl-C included), so matching happens in one worker
 * thread that the caller waits for synchronously (`Atomics.wait`, ~30 µs a round trip), up to the deadline.
 * Past it the worker is terminated (that does interrupt the regular expression) and a new one starts on
 * the next call. Started on first use; it never keeps the process alive.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

export interface RegexMatch {
  /** `lastIndex` before this match was searched for. */
  readonly from: number;
  /** The match and its groups (`match[0]`, `match[1]`, ...). */
  readonly groups: (string | undefined)[];
  readonly index: number;
  /** `lastIndex` after it. */
  readonly lastIndex: number;
}

/** Most matches computed in one round trip (a global regex); more are fetched when read. */
const MAX_MATCHES = 10_000;

const WORKER = `
const { workerData } = require('node:worker_threads');
const { port, signal } = workerData;
const flag = new Int32Array(signal);
port.on('message', ({ source, flags, str, from, max }) => {
  let reply;
  try {
    const re = new RegExp(source, flags);
    const matches = [];
    let at = from;
    for (;;) {
      re.lastIndex = at;
      const m = re.exec(str);
      if (!m) break;
      matches.push({ from: at, groups: [...m], index: m.index, lastIndex: re.lastIndex });
      if (!re.global || m[0] === '' || matches.length >= max) break;
      at = re.lastIndex;
    }
    reply = { matches };
  } catch (err) {
    reply = { error: 'invalid regular expression: ' + err.message };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let current: { worker: Worker; port: MessagePort; flag: Int32Array } | undefined;

function worker() {
  if (current) return current;
  const signal = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(WORKER, {
    eval: true,
    workerData: { port: port2, signal },
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
  });
  w.unref();
  port1.unref();
  const me = { worker: w, port: port1, flag: new Int32Array(signal) };
  // A worker that died (out of memory on a hostile pattern): the next match starts a new one; the match it was doing
  // ends by its deadline and reports it.
  w.on('error', () => {
    if (current === me) current = undefined;
  });
  w.on('exit', () => {
    if (current === me) current = undefined;
  });
  current = me;
  return me;
}

/**
 * Every match of `source`/`flags` in `str` from `from` (one for a non-global regex), or an error:
 * `timeout` when matching took longer than `timeoutMs`.
 */
export function execRegex(
  source: string,
  flags: string,
  str: string,
  from: number,
  timeoutMs: number,
): { matches: RegexMatch[] } | { error: string } {
  const w = worker();
  Atomics.store(w.flag, 0, 0);
  w.port.postMessage({ source, flags, str, from, max: MAX_MATCHES });
  const state = Atomics.wait(w.flag, 0, 0, Math.max(1, timeoutMs));
  const reply = receiveMessageOnPort(w.port)?.message as { matches: RegexMatch[] } | { error: string } | undefined;
  if (state === 'timed-out' && !reply) {
    // Still matching: stop it. The next call starts a fresh worker.
    current = undefined;
    void w.worker.terminate();
    w.port.close();
    return { error: 'timeout' };
  }
  return reply ?? { error: 'the regular expression worker stopped' };
}
