#!/usr/bin/env node
/**
 * Merge per-run Stryker JSON reports (mutation-testing-report-schema) into one report.
 *
 *   node scripts/merge-mutation-reports.mjs reports/mutation/mutation.json reports/mutation/files/*.json
 *
 * The first argument is the output; the others are inputs, later ones winning for a file measured twice. Reports
 * of other line ranges of one file (no mutant in common: `--mutate file:1-330`, `file:331-660`) add up instead.
 * Stryker numbers tests per run ("0", "1", ...), so test ids are rewritten to "<test file> > <test name>",
 * which is the same in every run; `coveredBy` and `killedBy` follow. Prints the per-file and combined scores
 * (killed + timeout over killed + timeout + survived + no coverage; compile errors and ignored mutants are
 * left out, as Stryker does).
 */
import { readFileSync, writeFileSync } from 'node:fs';

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: merge-mutation-reports.mjs <output.json> <report.json>...');
  process.exit(2);
}

/** A mutant's place and change: the same in every run that measured it. */
const where = (m) =>
  `${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ` +
  `${m.mutatorName} ${m.replacement}`;

let merged;
const files = {};
const from = {};
const testFiles = {};
for (const path of inputs) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const ids = new Map();
  for (const [file, tf] of Object.entries(report.testFiles ?? {})) {
    const seen = new Set((testFiles[file] ??= { tests: [] }).tests.map((t) => t.id));
    for (const t of tf.tests) {
      const id = `${file} > ${t.name}`;
      ids.set(t.id, id);
      if (!seen.has(id)) (seen.add(id), testFiles[file].tests.push({ ...t, id }));
    }
  }
  const map = (list) => list?.map((id) => ids.get(id) ?? id);
  for (const [file, result] of Object.entries(report.files)) {
    const mutants = result.mutants.map((m) => ({
      ...m,
      ...(m.coveredBy ? { coveredBy: map(m.coveredBy) } : {}),
      ...(m.killedBy ? { killedBy: map(m.killedBy) } : {}),
    }));
    const known = files[file] && new Set(files[file].mutants.map(where));
    if (known && !mutants.some((m) => known.has(where(m)))) {
      // Another line range of the same file (`--mutate file:1-330`, then `file:331-660`): the batches add up.
      console.error(`note: ${file}: the mutants of ${path} join those of ${from[file]} (other lines)`);
      from[file] += ` + ${path}`;
      const taken = new Set(files[file].mutants.map((m) => m.id));
      for (const m of mutants) files[file].mutants.push(taken.has(m.id) ? { ...m, id: `${path}#${m.id}` } : m);
      continue;
    }
    if (files[file]) console.error(`note: ${file} is in ${from[file]} and ${path}; ${path} wins`);
    from[file] = path;
    files[file] = { ...result, mutants };
  }
  merged = { ...report };
}
merged.files = Object.fromEntries(
  Object.keys(files)
    .sort()
    .map((f) => [f, files[f]]),
);
merged.testFiles = testFiles;
writeFileSync(out, JSON.stringify(merged));

const statuses = () => ({
  Killed: 0,
  Timeout: 0,
  Survived: 0,
  NoCoverage: 0,
  CompileError: 0,
  Ignored: 0,
  RuntimeError: 0,
});
const total = statuses();
const score = (c) => {
  const valid = c.Killed + c.Timeout + c.Survived + c.NoCoverage;
  return valid === 0 ? 'n/a' : `${((100 * (c.Killed + c.Timeout)) / valid).toFixed(1)}%`;
};
const row = (name, c) =>
  `| ${name} | ${c.Killed} | ${c.Survived} | ${c.NoCoverage} | ${c.Timeout} | ${c.CompileError} | ${score(c)} |`;
console.log('| file | killed | survived | no coverage | timeout | compile errors | score |');
console.log('|---|---|---|---|---|---|---|');
for (const [file, result] of Object.entries(merged.files)) {
  const c = statuses();
  for (const m of result.mutants)
    ((c[m.status] = (c[m.status] ?? 0) + 1), (total[m.status] = (total[m.status] ?? 0) + 1));
  console.log(row(`\`${file}\``, c));
}
console.log(row(`**all ${Object.keys(merged.files).length} files**`, total));
