// The types of ./model.js for TypeScript importers (its unit tests); model.js itself is checked against ./fold.d.ts.
export { apply, counts, isTerminal, itemProgress, newRun, sentenceOf, timeline } from './fold.js';
export type { RunView, TaskDetail as Task } from './fold.js';
