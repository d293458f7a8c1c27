import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { outboxDir } from '../src/core/home.js';
import { defineTool } from '../src/tools/define-tool.js';
import { draftOrIdea } from './upstream.js';

/**
 * Send an email with nodemailer. By default nothing leaves the machine: the message is written as an
 * `.eml` file to the outbox folder (`BRAID_OUTBOX`, default `$BRAID_HOME/outbox/`). With `SMTP_URL` set
 * (e.g. `smtp://user:pass@smtp.example.com:587`) it is sent over SMTP.
 */
export const sendEmail = defineTool({
  name: 'send_email',
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
  }),
  upstream: draftOrIdea,
  async run({ to, subject, body, from }, ctx) {
    // Loaded on first use: registering the built-in tools must not load nodemailer.
    const { default: nodemailer } = await import('nodemailer');
    const smtp = process.env.SMTP_URL;
    if (smtp) {
      const transport = nodemailer.createTransport(smtp);
      try {
        const info = await transport.sendMail({ from, to, subject, text: body });
        return { messageId: info.messageId, transport: 'smtp' as const, accepted: info.accepted.map(String) };
      } finally {
        transport.close();
      }
    }
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    const info = await transport.sendMail({ from, to, subject, text: body });
    const dir = outboxDir();
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${ctx.runId}-${ctx.taskId}.eml`);
    await writeFile(path, info.message as Buffer);
    ctx.logger.info('email written to outbox', { path });
    return {
      messageId: info.messageId,
      transport: 'outbox' as const,
      path,
      accepted: to.split(',').map((s) => s.trim()),
    };
  },
});
