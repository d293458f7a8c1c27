// Loads a run for the page: its workflow (definition, input, graph), its status, and its events, live.
// Events are applied to the model as they come; the page redraws at most every 100 ms, so a run of
// thousands of tasks stays responsive.
import { useEffect, useRef, useState } from './vendor/preact-htm.js';
import { followEvents, getJson } from './api.js';
import { apply, newRun } from './model.js';

const enc = encodeURIComponent;

export function useRunData(runId) {
  const [def, setDef] = useState();
  const [summary, setSummary] = useState();
  const [error, setError] = useState();
  const [streamError, setStreamError] = useState();
  const [version, setVersion] = useState(0);
  const [generation, setGeneration] = useState(0);
  const model = useRef();
  const timer = useRef();

  // A new run id starts over.
  useEffect(() => {
    const abort = new AbortController();
    (setDef(undefined), setSummary(undefined), setError(undefined), (model.current = undefined));
    getJson(`/runs/${enc(runId)}/workflow`, abort.signal).then(
      (d) => {
        model.current = newRun(
          runId,
          d.graph.nodes.map((n) => n.id),
        );
        setDef(d);
      },
      (err) => abort.signal.aborted || setError(err),
    );
    return () => abort.abort();
  }, [runId]);

  // The events, from where the model stands; again after an approval or a resume (`reconnect`).
  useEffect(() => {
    if (!def || !model.current) return;
    const abort = new AbortController();
    const run = model.current;
    const redraw = () => {
      timer.current ??= setTimeout(() => {
        timer.current = undefined;
        setVersion(run.version);
      }, 100);
    };
    let poll;
    const refresh = () => getJson(`/runs/${enc(runId)}`, abort.signal).then(setSummary, () => {});
    refresh();
    followEvents(`/runs/${enc(runId)}/events`, {
      signal: abort.signal,
      after: run.lastSeq,
      onEvent: (type, data) => {
        if (type !== 'end' && data && typeof data.seq === 'number' && apply(run, data)) redraw();
      },
      onError: setStreamError,
      shouldStop: () => true,
    }).then(async () => {
      if (abort.signal.aborted) return;
      await refresh();
      redraw();
      // A run paused for approval (or written by another process) may go on: look again now and then.
      if (run.status === 'waiting' || run.status === 'running')
        poll = setTimeout(() => setGeneration((g) => g + 1), 3000);
    });
    return () => {
      abort.abort();
      clearTimeout(poll);
    };
  }, [def, generation]);

  useEffect(() => () => clearTimeout(timer.current), []);

  const run = model.current;
  const status = run && (run.endedAt || summary?.status !== 'interrupted' ? run.status : 'interrupted');
  return { def, run, status, summary, error, streamError, version, reconnect: () => setGeneration((g) => g + 1) };
}
