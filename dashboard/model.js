// @ts-check
// A run as the page shows it, built from its events (the same events `GET /runs/:id/events` streams): per task its
// status, label, attempts with errors, LLM calls, logs, for_each items and visits; per run its status, output, usage
// and child runs. The fold is braid's own (src/core/event-table.ts, the one the store, the CLI and the server use),
// bundled for the browser as ./fold.js by scripts/bundle.mjs; its types come from the same source (fold.d.ts), checked
// by `npm run typecheck`. Unit tests: src/core/run-view.test.ts.

/** @typedef {import('./fold.js').RunView} RunView */
/** @typedef {import('./fold.js').TaskDetail} Task */

export { apply, counts, isTerminal, itemProgress, newRun, sentenceOf, timeline } from './fold.js';
