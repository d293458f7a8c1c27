import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { outboxDir } from '../src/core/home.js';
import { optional } from '../src/core/optional.js';
import { defineTool } from '../src/toolkit/define-tool.js';
import { draftOrIdea } from './upstream.js';

/**
 * Send an email. By default nothing leaves the machine: the message is written as an `.eml` file to the outbox
 * folder (`BRAID_OUTBOX`, default `$BRAID_HOME/outbox/`). With `SMTP_URL` set
 * (e.g. `smtp://user:pass@smtp.example.com:587`) it is sent over SMTP with nodemailer (an optional package).
 *
 * Once per `ctx.idempotencyKey` (workflow-spec.md §7a): the key names the outbox file and the `Message-ID`, and
 * a second send with a key already used (a retry, a resume or takeover after the message went out, a fork with
 * the same input) is a success that sends nothing (`duplicate: true`). Over SMTP a marker for the key is made
 * before the message is handed over: a crash in between sends nothing rather than twice (at most once).
 * @public
 */
export const sendEmail = defineTool({
  name: 'send_email',
  effects: 'external',
  description:
    'Send an email (subject, body, to). Writes an .eml file to the outbox ($BRAID_HOME/outbox/) unless SMTP_URL is set.',
  input: z.object({
    to: z.string().min(3).describe('recipient address(es), comma-separated'),
    subject: z.string().min(1),
    body: z.string().min(1),
    from: z.string().default('braid@localhost'),
  }),
  output: z.object({
    messageId: z.string(),
    transport: z.enum(['outbox', 'smtp']),
    path: z.string().optional(),
    accepted: z.array(z.string()),
    /** The key had sent already: nothing was sent this time. */
    duplicate: z.boolean().optional(),
  }),
  upstream: draftOrIdea,
  async run({ to, subject, body, from }, ctx) {
    const key = ctx.idempotencyKey || randomUUID();
    const messageId = `<${key}@${domainOf(from)}>`;
    const accepted = to.split(',').map((s) => s.trim());
    const dir = outboxDir();
    const smtp = process.env.SMTP_URL;
    if (smtp) {
      // Loaded on first use, and only for SMTP: nodemailer is optional (the outbox needs no mail library).
      const { default: nodemailer } = await optional('smtp', () => import('nodemailer'));
      if (!(await claim(join(dir, 'sent'), key))) {
        ctx.logger.info('email already sent for this key: not sent again', { messageId });
        return { messageId, transport: 'smtp' as const, accepted, duplicate: true };
      }
      const transport = nodemailer.createTransport(smtp);
      try {
        const info = await transport.sendMail({ from, to, subject, text: body, messageId });
        return { messageId: info.messageId, transport: 'smtp' as const, accepted: info.accepted.map(String) };
      } finally {
        transport.close();
      }
    }
    const { text } = composeEml({ from, to, subject, body }, new Date(), messageId);
    await mkdir(dir, { recursive: true });
    // Named by the task and its key, not the run: a fork or a takeover with the same input finds it.
    const path = join(dir, `${ctx.taskId}-${key.slice(0, 16)}.eml`);
    try {
      await writeFile(path, text, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      ctx.logger.info('email already in the outbox for this key: not written again', { path });
      return { messageId, transport: 'outbox' as const, path, accepted, duplicate: true };
    }
    ctx.logger.info('email written to outbox', { path });
    return { messageId, transport: 'outbox' as const, path, accepted };
  },
});

/** Make the marker of a key once: false when it was made before (the key has sent already). */
async function claim(dir: string, key: string): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, key), new Date().toISOString(), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The sender's domain, for a `Message-ID`. */
const domainOf = (from: string) => /@([\w.-]+)>?\s*$/.exec(oneLine(from))?.[1] ?? 'localhost';

/** A header value on one line: line breaks in it would start another header (header injection). */
const oneLine = (value: string) => value.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/** Longest line a header keeps before its value is folded into encoded words. */
const MAX_HEADER = 900;

/**
 * `value` as RFC 2047 encoded words (UTF-8, base64), each at most 75 characters, folded onto lines of their own;
 * ASCII text that fits on a line stays as it is.
 */
export function encodeHeader(value: string): string {
  const text = oneLine(value);
  if (/^[\x20-\x7e]*$/.test(text) && text.length <= MAX_HEADER) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // 45 bytes of UTF-8 are 60 of base64: "=?UTF-8?B?" + 60 + "?=" is 72 characters
    if (Buffer.byteLength(chunk + ch) > 45) (words.push(chunk), (chunk = ''));
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\n ');
}

/**
 * A plain-text message as an `.eml` file (RFC 5322 with MIME), what the outbox holds: readable as it is when the
 * body is short-lined ASCII, else its body is base64. Addresses are kept as given (UTF-8 allowed, RFC 6532).
 */
export function composeEml(
  mail: { from: string; to: string; subject: string; body: string },
  now = new Date(),
  messageId = `<${randomUUID()}@${domainOf(mail.from)}>`,
): { messageId: string; text: string } {
  const plain = /^[\x20-\x7e\t\n]*$/.test(mail.body) && mail.body.split('\n').every((l) => l.length <= 998);
  const body = plain
    ? mail.body
    : (Buffer.from(mail.body)
        .toString('base64')
        .match(/.{1,76}/g)
        ?.join('\n') ?? '');
  const headers = [
    `From: ${oneLine(mail.from)}`,
    `To: ${oneLine(mail.to)}`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Message-ID: ${messageId}`,
    `Date: ${now.toUTCString().replace(/GMT$/, '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${plain ? '7bit' : 'base64'}`,
  ];
  return { messageId, text: `${headers.join('\n')}\n\n${body}\n` };
}
