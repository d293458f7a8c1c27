/**
 * `npx tsx scripts/record-fixtures.ts <dist/bundle dir of a build> <out dir>`: writes run records with that build
 * (e.g. the commit before `step.ts`), for test/redecide.test.ts to decide again with this one: random workflows
 * (test/support/random-workflow.ts, a fixed seed) under random tool delays, a run paused at an approval and
 * continued (approved, rejected, with an edit), a cancelled run, a run over max_tasks. Each record is copied to
 * `<out dir>/<n>-<what>.jsonl`.
 */
import fc from 'fast-check';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomWorkflow } from '../test/support/random-workflow.js';
import { recorder } from '../test/support/tools.js';

const [bundle, out] = process.argv.slice(2);
if (!bundle || !out) {
  console.error('usage: npx tsx scripts/record-fixtures.ts <dist/bundle dir> <out dir>');
  process.exit(2);
}
const braid = await import(pathToFileURL(join(resolve(bundle), 'index.js')).href);
const dir = mkdtempSync(join(tmpdir(), 'braid-fixtures-'));
const store = new braid.JsonlRunStore(dir);
const { tools } = recorder();
const options = { tools, builtins: false, store, classifier: null, retry: { baseDelayMs: 1 } };
mkdirSync(out, { recursive: true });
let n = 0;
const keep = (runId: string, what: string) => {
  const file = readdirSync(dir).find((f) => f.startsWith(runId) && f.endsWith('.jsonl'));
  if (!file) throw new Error(`no record for ${runId}`);
  copyFileSync(join(dir, file), join(out, `${String(++n).padStart(2, '0')}-${what}.jsonl`));
};

for (const { workflow: spec, input, concurrency } of fc.sample(randomWorkflow(), { seed: 31, numRuns: 60 })) {
  const loaded = await braid.loadWorkflow(spec, { toolNames: ['work'] }).catch(() => undefined);
  if (!loaded) continue;
  const result = await braid.runWorkflow(loaded.workflow, { ...options, input, concurrency });
  keep(result.runId, 'random');
}

const gated = (edit: boolean) => ({
  name: 'gated',
  tasks: [
    { id: 'draft', tool: 'work', input: { value: { n: 1 } } },
    { id: 'gate', tool: 'work', input: { value: { n: 2 } }, dependencies: ['draft'], approval: edit ? { edit } : true },
    { id: 'send', tool: 'work', input: {}, dependencies: ['gate'] },
    { id: 'side', tool: 'work', input: { ms: 5 } },
  ],
});
for (const [what, decision] of [
  ['approved', { approved: true, by: 'ana' }],
  ['rejected', { approved: false, by: 'ana', comment: 'no' }],
  ['edited', { approved: true, by: 'ana', edit: { value: { n: 7 } } }],
] as const) {
  const { workflow } = await braid.loadWorkflow(gated(what === 'edited'), { toolNames: ['work'] });
  const first = await braid.runWorkflow(workflow, options);
  await braid.approveTask(store, first.runId, 'gate', decision, { tools });
  await braid.resumeRun(first.runId, { ...options, store });
  keep(first.runId, `approval-${what}`);
}

{
  const { workflow } = await braid.loadWorkflow(
    {
      name: 'cancelled',
      tasks: [
        { id: 'slow', tool: 'work', input: { ms: 200 } },
        { id: 'after', tool: 'work', input: {}, dependencies: ['slow'] },
      ],
    },
    { toolNames: ['work'] },
  );
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  const result = await braid.runWorkflow(workflow, { ...options, signal: stop.signal });
  keep(result.runId, 'cancelled');
  // Resumed after the cancel: the rest runs.
  await braid.resumeRun(result.runId, { ...options, store });
  keep(result.runId, 'cancelled-resumed');
}

rmSync(dir, { recursive: true, force: true });
console.log(`${n} records in ${out}`);
