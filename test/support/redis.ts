/**
 * A real redis-server for a test: started on a free loopback port in a temporary folder, stopped after.
 * Without the binary the caller skips, saying how to enable it (`.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasRedis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
export const SKIP_REDIS =
  'skipping Redis tests: no redis-server on PATH; install it with `apt-get install -y redis-server` (.ci/run does)';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<TestRedis & { restart(downMs?: number): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'braid-redis-'));
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start in 10 s')), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (String(d).includes('Ready to accept connections')) (clearTimeout(timer), resolve());
      });
      child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`redis-server exited with ${code}`))));
    });
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM'); // with appendonly, what was written survives the restart
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** Stop and start again on the same port and data folder, after `downMs` without Redis. */
    restart: async (downMs = 0) => {
      await stop();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
