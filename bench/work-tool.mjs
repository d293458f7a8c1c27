// The benchmark's one tool (`braid run --tools bench/work-tool.mjs`): sleeps `ms`, or returns at once.
export const work = {
  name: 'work',
  description: 'sleep ms, then return null (no-op when ms is 0)',
  run: ({ ms }) => (ms ? new Promise((r) => setTimeout(() => r(null), ms)) : null),
};
