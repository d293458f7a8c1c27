/**
 * The API report: one API Extractor run per public entry point of package.json `exports`, so a change to what
 * braid exports shows in review as a change to `etc/*.api.md`. `npm run api:report` runs this file (through tsx)
 * to rewrite the reports; test/api-report.test.ts runs `runApiReports(false)` against the built `dist/` and fails
 * when a report differs. Both read api-extractor.json; every entry shares one TypeScript program.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CompilerState, Extractor, ExtractorConfig, type ExtractorMessage } from '@microsoft/api-extractor';

const ROOT = resolve(import.meta.dirname, '..');
/** Messages that say the report changed: that is the result itself, not a problem with the code. */
const REPORT_STATE = new Set([
  'console-api-report-copied',
  'console-api-report-not-copied',
  'console-api-report-created',
]);

/** One entry point: its subpath in package.json `exports`, the built .d.ts it points at, its report's name. */
export interface ApiEntry {
  readonly subpath: string;
  readonly dts: string;
  readonly reportName: string;
}

/** Every subpath of package.json `exports`: `.` is `etc/braid.api.md`, `./server` is `etc/braid-server.api.md`. */
export function apiEntries(): ApiEntry[] {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, { types: string }>;
  };
  return Object.entries(pkg.exports).map(([subpath, target]) => ({
    subpath,
    dts: resolve(ROOT, target.types),
    reportName: subpath === '.' ? 'braid' : `braid-${subpath.slice(2).replaceAll('/', '-')}`,
  }));
}

/** What one entry's run found. */
export interface ApiReportResult {
  readonly entry: ApiEntry;
  readonly reportChanged: boolean;
  /** When comparing and the report changed: the difference, as a patch from the committed report to the new one. */
  readonly diff?: string;
  /** Warnings and errors, each `file:line:col - (id) text`; none is allowed. */
  readonly problems: string[];
}

/**
 * Runs API Extractor on every entry. `localBuild: true` rewrites `etc/*.api.md`; `false` only compares (the new
 * report is written to a temporary folder, removed afterwards) and reports the difference.
 */
export function runApiReports(localBuild: boolean): ApiReportResult[] {
  const configFile = resolve(ROOT, 'api-extractor.json');
  const base = ExtractorConfig.loadFile(configFile);
  const temp = mkdtempSync(join(tmpdir(), 'braid-api-report-'));
  try {
    const entries = apiEntries();
    const configs = entries.map((entry) =>
      ExtractorConfig.prepare({
        configObject: {
          ...base,
          mainEntryPointFilePath: entry.dts,
          apiReport: { ...base.apiReport!, reportFileName: entry.reportName, reportTempFolder: temp },
        },
        configObjectFullPath: configFile,
        packageJsonFullPath: resolve(ROOT, 'package.json'),
      }),
    );
    const compilerState = CompilerState.create(configs[0]!, { additionalEntryPoints: entries.map((e) => e.dts) });
    return configs.map((config, i) => {
      const problems: string[] = [];
      let diff: string | undefined;
      const result = Extractor.invoke(config, {
        localBuild,
        compilerState,
        printApiReportDiff: !localBuild,
        messageCallback: (message: ExtractorMessage) => {
          message.handled = true;
          if (message.messageId === 'console-api-report-diff') diff = message.text;
          else if (!REPORT_STATE.has(message.messageId) && ['warning', 'error'].includes(message.logLevel)) {
            problems.push(message.formatMessageWithLocation(ROOT));
          }
        },
      });
      return { entry: entries[i]!, reportChanged: result.apiReportChanged, problems, ...(diff ? { diff } : {}) };
    });
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

// `tsx scripts/api-report.ts` (npm run api:report): rewrite the reports, print what changed and any problem.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let failed = false;
  for (const { entry, reportChanged, problems } of runApiReports(true)) {
    console.log(`${entry.subpath}: etc/${entry.reportName}.api.md ${reportChanged ? 'updated' : 'unchanged'}`);
    for (const problem of problems) console.error(`  ${problem}`);
    failed ||= problems.length > 0;
  }
  process.exitCode = failed ? 1 : 0;
}
