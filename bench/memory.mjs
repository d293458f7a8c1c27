// Live memory per task of one run in a fresh process (`npm run bench`'s scaling section runs it; alone:
// `node --expose-gc bench/memory.mjs 100000`): the heap after a full GC with the run's result held, minus the heap
// before the run, over the number of tasks. The workflow (layered, 10 wide, no-op tasks) is loaded and validated
// before the baseline: it is the caller's input; the plan compiled for it and the result are the run's
// (`withValidatedWorkflow` counts the validated copy of the workflow too).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlRunStore, loadWorkflow, runWorkflow } from '../dist/bundle/index.js';

if (!global.gc) throw new Error('run with node --expose-gc');
const n = Number(process.argv[2] ?? 100_000);
const width = 10;
const tasks = [];
for (let d = 0; d < n / width; d++)
  for (let w = 0; w < width; w++)
    tasks.push({
      id: `l${d}_${w}`,
      tool: 'work',
      input: { ms: 0 },
      dependencies: d === 0 ? [] : Array.from({ length: width }, (_, k) => `l${d - 1}_${k}`),
    });
const work = { name: 'work', run: () => null };
const dir = mkdtempSync(join(tmpdir(), 'braid-memory-'));
const store = new JsonlRunStore(dir);
global.gc();
const beforeLoad = process.memoryUsage().heapUsed;
const { workflow } = await loadWorkflow({ name: `layered ${n}`, tasks }, { toolNames: ['work'] });
global.gc();
const before = process.memoryUsage().heapUsed;
const result = await runWorkflow(workflow, { tools: [work], builtins: false, classifier: null, store });
await store.idle();
global.gc();
const live = process.memoryUsage().heapUsed - before;
if (result.status !== 'succeeded') throw new Error(`memory ${n}: ${result.status}`);
rmSync(dir, { recursive: true, force: true });
const withWorkflow = process.memoryUsage().heapUsed - beforeLoad;
process.stdout.write(
  `${JSON.stringify({ tasks: n, liveBytesPerTask: Math.round(live / n), withValidatedWorkflow: Math.round(withWorkflow / n) })}\n`,
);
