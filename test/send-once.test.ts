/**
 * No external side effect repeats under `kill -9` and resume (workflow-spec.md §7a): `braid run` of a workflow
 * that sends an email is killed at a random moment, 50 times, then resumed. The resumed run sends with the same
 * `ctx.idempotencyKey`, so the outbox holds exactly one message per run, however the kill fell (before the send,
 * between the send and its record, after).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { braid, ROOT } from './support/cli.js';

const TRIALS = 50;

describe('send_email under kill -9 and resume', () => {
  it(
    `${TRIALS} runs killed at random moments, then resumed: exactly one message each`,
    { timeout: 240_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'braid-send-once-'));
      const file = join(dir, 'mail.json');
      writeFileSync(
        file,
        JSON.stringify({
          name: 'mail',
          tasks: [
            { id: 'send', tool: 'send_email', input: { to: 'team@example.com', subject: 'hi', body: 'hello' } },
            { id: 'after', tool: 'sleep', input: { ms: 100 }, dependencies: ['send'] },
          ],
        }),
      );
      const seen = { killedBeforeRecord: 0, sentBeforeResume: 0, sentNotRecorded: 0, resumed: 0 };
      for (let i = 0; i < TRIALS; i++) {
        const home = join(dir, `home-${i}`);
        const env = { BRAID_HOME: home, BRAID_OUTBOX: join(home, 'outbox') };
        // Start-up takes a few hundred ms: the kills fall before, during and after the send.
        const delay = 250 + Math.floor(Math.random() * 900);
        await braid(['run', file, '--quiet'], {
          env,
          onSpawn: (child) => void setTimeout(() => child.kill('SIGKILL'), delay),
        });
        const outbox = () =>
          existsSync(env.BRAID_OUTBOX) ? readdirSync(env.BRAID_OUTBOX).filter((f) => f.endsWith('.eml')) : [];
        if (outbox().length) seen.sentBeforeResume++;
        const recorded =
          existsSync(join(home, 'runs')) && readdirSync(join(home, 'runs')).some((f) => f.endsWith('.jsonl'));
        if (!recorded) {
          seen.killedBeforeRecord++;
          expect(outbox()).toEqual([]);
          continue;
        }
        const [log] = readdirSync(join(home, 'runs')).filter((f) => f.endsWith('.jsonl'));
        const sendRecorded = readFileSync(join(home, 'runs', log), 'utf8').includes(
          '"type":"task.succeeded","taskId":"send"',
        );
        // The window that matters: the message went out, the record does not know it yet.
        if (outbox().length && !sendRecorded) seen.sentNotRecorded++;
        const resumed = await braid(['resume', 'latest', '--quiet'], { env });
        expect(resumed.code, resumed.stderr).toBe(0);
        seen.resumed++;
        expect(outbox(), `trial ${i} (killed after ${delay} ms)`).toHaveLength(1);
      }
      console.info(
        `send once: ${TRIALS} kills; ${seen.resumed} resumed (${seen.sentBeforeResume} had sent before the kill, ${seen.sentNotRecorded} of them before the record knew), ${seen.killedBeforeRecord} killed before the record existed; one message per run in every trial`,
      );
      expect(seen.resumed).toBeGreaterThan(0);
    },
  );

  it(
    'killed after the message went out and before the record knew: the resumed run sends nothing new',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'braid-send-window-'));
      // send_email, then (with STALL set) never return: the kill lands exactly in the window.
      writeFileSync(
        join(dir, 'stall.mjs'),
        `import { builtinTools } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/bundle/index.js')).href)};
const send = builtinTools().find((t) => t.name === 'send_email');
export const sendThenStall = { ...send, name: 'send_then_stall', async run(input, ctx) {
  const out = await send.run(input, ctx);
  if (process.env.STALL) await new Promise(() => {});
  return out;
} };
`,
      );
      const file = join(dir, 'mail.json');
      writeFileSync(
        file,
        JSON.stringify({
          name: 'mail',
          tasks: [
            { id: 'send', tool: 'send_then_stall', input: { to: 'team@example.com', subject: 'hi', body: 'hello' } },
          ],
        }),
      );
      for (let i = 0; i < 3; i++) {
        const home = join(dir, `home-${i}`);
        const outbox = join(home, 'outbox');
        const env = { BRAID_HOME: home, BRAID_OUTBOX: outbox };
        const eml = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []);
        await braid(['run', file, '--tools', join(dir, 'stall.mjs'), '--quiet'], {
          env: { ...env, STALL: '1' },
          onSpawn: (child) => {
            const poll = setInterval(() => eml().length && (clearInterval(poll), child.kill('SIGKILL')), 20);
          },
        });
        expect(eml()).toHaveLength(1);
        const resumed = await braid(['resume', 'latest', '--json'], { env });
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(JSON.parse(resumed.stdout).tasks.send.output).toMatchObject({ duplicate: true });
        expect(eml()).toHaveLength(1);
      }
    },
  );
});
