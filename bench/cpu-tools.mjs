// A CPU-bound tool for the distributed benchmark: spins for `ms` of CPU time (no I/O, no sleeping).
import { z } from 'zod';

export const spin = {
  name: 'spin',
  description: 'Burn ms milliseconds of CPU',
  input: z.object({ ms: z.number() }),
  run: ({ ms }) => {
    const end = performance.now() + ms;
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return { x: x > 0 };
  },
};
