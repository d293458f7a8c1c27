#!/usr/bin/env node
/**
 * Keep only the given source files in a Stryker JSON report, in place:
 *
 *   node scripts/keep-mutation-files.mjs reports/mutation/files/<batch>.json src/engine/decide.ts ...
 *
 * A report written with an incremental file also carries the files that file knew from earlier runs (old
 * results); a batch's report in reports/mutation/files/ should hold only the files that batch measured, or
 * the merge would take those old copies.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const [path, ...keep] = process.argv.slice(2);
if (!path || keep.length === 0) {
  console.error('usage: keep-mutation-files.mjs <report.json> <source file>...');
  process.exit(2);
}
const report = JSON.parse(readFileSync(path, 'utf8'));
report.files = Object.fromEntries(Object.entries(report.files).filter(([file]) => keep.includes(file)));
writeFileSync(path, JSON.stringify(report));
console.log(`${path}: ${Object.keys(report.files).join(', ') || 'no files left'}`);
