/**
 * Every test's run records, outbox and workspace go to one temporary folder, removed afterwards: `npm test` leaves no
 * files in the working tree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let home: string | undefined;

export function setup(): void {
  home = mkdtempSync(join(tmpdir(), 'braid-test-'));
  process.env.BRAID_HOME = home;
  process.env.BRAID_OUTBOX = join(home, 'outbox');
}

export function teardown(): void {
  if (home) rmSync(home, { recursive: true, force: true });
}
