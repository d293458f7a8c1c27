/**
 * The committed API report is the public surface of the built code: API Extractor runs on `dist/` (built by
 * `npm test`'s pretest) for every entry point of package.json `exports` and fails when a report in etc/ differs, or
 * when an export has no release tag (@public or @beta). A change to the public API is then a change to etc/*.api.md
 * in review: run `npm run api:report` and commit it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiEntries, runApiReports } from '../scripts/api-report.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('the API report', () => {
  it('etc/*.api.md match the built declarations of every entry point', () => {
    const missing = apiEntries().filter((e) => !existsSync(e.dts));
    expect(missing, 'no built declarations: run `npx tsc -p tsconfig.build.json` (npm test builds them)').toEqual([]);

    const results = runApiReports(false);
    const problems = results.flatMap((r) => r.problems.map((p) => `${r.entry.subpath}: ${p}`));
    expect(problems, 'API Extractor found problems in the public API (fix them, then `npm run api:report`)').toEqual(
      [],
    );
    const changed = results.filter((r) => r.reportChanged);
    const diffs = changed.map((r) => r.diff ?? `etc/${r.entry.reportName}.api.md is missing`).join('\n');
    expect(
      changed.map((r) => `etc/${r.entry.reportName}.api.md`),
      'The public API changed: run `npm run api:report` and commit etc/*.api.md (the diff is what review sees)\n' +
        diffs,
    ).toEqual([]);
  }, 60_000);
});
