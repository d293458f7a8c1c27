// The types of ./fold.js, which scripts/bundle.mjs bundles from src/core/run-view.ts (dist/dashboard/fold.js).
export * from '../src/core/run-view.js';
