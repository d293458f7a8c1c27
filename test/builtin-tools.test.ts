/** Built-in tools against real components: an SMTP server, an HTTP search API, the file system. */
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow, type TaskResult } from '../src/index.js';
import { composeEml, encodeHeader, sendEmail } from '../tools/send-email.js';
import type { ToolContext } from '../src/toolkit/types.js';

async function one(tool: string, input: unknown): Promise<TaskResult> {
  const r = await runWorkflow([{ id: 't', tool, input }]);
  return r.tasks.t;
}

const env = { ...process.env };
afterEach(() => {
  process.env = { ...env };
});

describe('calculate', () => {
  it('evaluates expressions with units and percentages', async () => {
    expect((await one('calculate', { expression: '350 km / 2 h to km/h' })).output).toMatchObject({
      text: '175 km / h',
    });
    expect((await one('calculate', { expression: '12% of 250' })).output).toMatchObject({ result: 30 });
  });
  it('fails clearly, without retries, on a bad expression or a disabled function', async () => {
    const bad = await one('calculate', { expression: '2 +' });
    expect(bad.error?.message).toMatch(/cannot evaluate "2 \+"/);
    const sneaky = await one('calculate', { expression: 'import({x: 1})' });
    expect(sneaky.error?.message).toMatch(/disabled/);
  });
  it('names the bad field: before the run starts for a literal, at run time for a rendered value', async () => {
    await expect(one('calculate', { expr: '1' })).rejects.toThrow(
      /tasks\[0\]\.input\.expr: calculate has no input field "expr" \(its fields: expression\)/,
    );
    const r = await runWorkflow([{ id: 't', tool: 'calculate', input: { expression: '{{ input.n }}' } }], {
      input: { n: 7 },
    });
    expect(r.tasks.t.error?.message).toMatch(/invalid input for tool "calculate": input\.expression:/);
  });
});

/** A real SMTP server on a loopback port (SMTP_URL points at it); what it received. */
async function smtpServer() {
  const received: { from?: string; to: string[]; data: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (c) => (data += c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.server.address() as AddressInfo;
  process.env.SMTP_URL = `smtp://127.0.0.1:${port}`;
  return { received, server };
}

/** A tool's `ctx` with the given idempotency key, as an attempt would have it. */
const keyed = (idempotencyKey: string) =>
  ({
    signal: new AbortController().signal,
    runId: 'r',
    taskId: 'send',
    attempt: 1,
    visit: 1,
    idempotencyKey,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    emit() {},
    services: {},
  }) as ToolContext;

describe('send_email', () => {
  it('sends once per idempotency key: a second send with the same key sends nothing (outbox and SMTP)', async () => {
    process.env.BRAID_OUTBOX = await mkdtemp(join(tmpdir(), 'outbox-'));
    delete process.env.SMTP_URL;
    const mail = { to: 'a@example.com', subject: 'Hi', body: 'Body', from: 'braid@localhost' };
    const first = await sendEmail.run(mail, keyed('k1'));
    const again = await sendEmail.run(mail, keyed('k1'));
    const other = await sendEmail.run(mail, keyed('k2'));
    expect(first).toMatchObject({ messageId: '<k1@localhost>', transport: 'outbox' });
    expect(first).not.toHaveProperty('duplicate');
    expect(again).toMatchObject({ messageId: '<k1@localhost>', path: first.path, duplicate: true });
    expect(other.path).not.toBe(first.path);
    expect((await readdir(process.env.BRAID_OUTBOX)).filter((f) => f.endsWith('.eml'))).toHaveLength(2);

    const { received, server } = await smtpServer();
    try {
      await sendEmail.run(mail, keyed('k3'));
      expect(await sendEmail.run(mail, keyed('k3'))).toMatchObject({ transport: 'smtp', duplicate: true });
      expect(received).toHaveLength(1);
      expect(received[0].data).toContain('Message-ID: <k3@localhost>');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('sends over SMTP to a real server when SMTP_URL is set', async () => {
    const { received, server } = await smtpServer();
    try {
      const t = await one('send_email', { to: 'team@example.com', subject: 'Solar kites', body: 'A pilot programme.' });
      expect(t.output).toMatchObject({ transport: 'smtp', accepted: ['team@example.com'] });
      expect(received).toHaveLength(1);
      expect(received[0].to).toEqual(['team@example.com']);
      expect(received[0].data).toContain('Subject: Solar kites');
      expect(received[0].data).toContain('A pilot programme.');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('writes an .eml file to the outbox by default', async () => {
    process.env.BRAID_OUTBOX = await mkdtemp(join(tmpdir(), 'outbox-'));
    delete process.env.SMTP_URL;
    const t = await one('send_email', { to: 'a@example.com', subject: 'Hi', body: 'Body' });
    const eml = await readFile((t.output as { path: string }).path, 'utf8');
    expect(eml).toContain('To: a@example.com');
  });

  it('the .eml needs no mail library: non-ASCII subjects are encoded words, bodies base64, no header injection', () => {
    const { messageId, text } = composeEml(
      {
        from: 'Braid <braid@example.org>',
        to: 'a@example.com\r\nBcc: evil@example.com',
        subject: 'Grüße aus Köln: '.repeat(5),
        body: 'Hallo\nzweite Zeile – ✓',
      },
      new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    );
    const [head, body] = text.split('\n\n');
    const headers = head.split(/\n(?! )/);
    expect(headers).toEqual([
      'From: Braid <braid@example.org>',
      'To: a@example.com Bcc: evil@example.com', // one header: the line break is gone
      expect.stringMatching(/^Subject: =\?UTF-8\?B\?/),
      `Message-ID: ${messageId}`,
      'Date: Thu, 02 Jan 2025 03:04:05 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
    ]);
    expect(messageId).toMatch(/^<[\w-]+@example\.org>$/);
    const words = headers[2].slice('Subject: '.length).split('\n ');
    expect(words.every((w) => w.length <= 75)).toBe(true);
    const decoded = Buffer.concat(words.map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1], 'base64')));
    expect(decoded.toString()).toBe('Grüße aus Köln: '.repeat(5).trim());
    expect(Buffer.from(body, 'base64').toString()).toBe('Hallo\nzweite Zeile – ✓');
    expect(encodeHeader('Plain subject')).toBe('Plain subject');
  });
});

describe('web_search', () => {
  it('searches the bundled corpus offline, labelled as such', async () => {
    const t = await one('web_search', { query: 'offshore wind', max_results: 3 });
    const out = t.output as { provider: string; results: { title: string }[] };
    expect(out.provider).toBe('offline');
    expect(out.results.length).toBeGreaterThan(0);
    expect(out.results[0].title.toLowerCase()).toContain('wind');
  });

  it('queries an HTTP search API when BRAID_SEARCH_URL is set', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ results: [{ title: 'Kites', url: 'https://example.org/kites', content: 'About kites' }] }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.env.BRAID_SEARCH_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/search`;
    process.env.BRAID_SEARCH_KEY = 'k1';
    try {
      const t = await one('web_search', { query: 'solar kites' });
      expect(t.output).toMatchObject({
        provider: 'http',
        results: [{ title: 'Kites', url: 'https://example.org/kites', snippet: 'About kites' }],
      });
      expect(seen[0]).toBe('/search?q=solar+kites&format=json Bearer k1');
    } finally {
      server.close();
    }
  });
});

describe('workspace files and http_request', () => {
  it('read_file and write_file stay inside the workspace', async () => {
    process.env.BRAID_WORKSPACE = await mkdtemp(join(tmpdir(), 'ws-'));
    expect((await one('write_file', { path: 'notes/a.txt', content: 'hello' })).status).toBe('succeeded');
    expect((await one('read_file', { path: 'notes/a.txt' })).output).toMatchObject({ content: 'hello' });
    expect((await one('read_file', { path: '../../etc/passwd' })).error?.message).toMatch(/escapes the workspace/);
    await writeFile(join(process.env.BRAID_WORKSPACE, 'x.txt'), 'x');
    expect((await one('write_file', { path: '/tmp/evil.txt', content: 'x' })).error?.message).toMatch(
      /escapes the workspace/,
    );
  });

  it('symbolic links leading outside the workspace are refused: no read, no write, no folder made outside', async () => {
    const ws = await mkdtemp(join(tmpdir(), 'ws-links-'));
    const outside = await mkdtemp(join(tmpdir(), 'outside-'));
    process.env.BRAID_WORKSPACE = ws;
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await writeFile(join(ws, 'inner.txt'), 'inner');
    await symlink('/etc/passwd', join(ws, 'passwd'));
    await symlink(join(outside, 'secret.txt'), join(ws, 'secret-link'));
    await symlink(outside, join(ws, 'out-dir'));
    await symlink(join(outside, 'not-yet'), join(ws, 'dangling'));
    await symlink(join(ws, 'inner.txt'), join(ws, 'inner-link'));
    await mkdir(join(ws, 'sub'));
    await symlink('../out-dir', join(ws, 'sub', 'up'));

    for (const path of ['passwd', 'secret-link', 'out-dir/secret.txt', 'sub/up/secret.txt']) {
      const t = await one('read_file', { path });
      expect(t.error?.message, path).toMatch(/escapes the workspace .* \(through a symbolic link\)/);
    }
    for (const path of [
      'secret-link',
      'out-dir/new.txt',
      'out-dir/made/deep/new.txt',
      'sub/up/new.txt',
      'dangling',
      'passwd',
    ]) {
      const t = await one('write_file', { path, content: 'pwned' });
      expect(t.error?.message, path).toMatch(/escapes the workspace/);
    }
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
    // Links that stay inside work as before.
    expect((await one('read_file', { path: 'inner-link' })).output).toMatchObject({ content: 'inner' });
    expect((await one('write_file', { path: 'inner-link', content: 'changed' })).status).toBe('succeeded');
    expect(await readFile(join(ws, 'inner.txt'), 'utf8')).toBe('changed');
    expect((await one('write_file', { path: 'sub/new/deeper.txt', content: 'ok' })).status).toBe('succeeded');
  });

  it('http_request returns JSON and enforces the size limit', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/big' ? JSON.stringify({ data: 'x'.repeat(5000) }) : JSON.stringify({ ok: true }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await one('http_request', { url: `${base}/small` })).output).toMatchObject({
        status: 200,
        body: { ok: true },
      });
      expect((await one('http_request', { url: `${base}/big`, max_bytes: 1000 })).error?.message).toMatch(
        /larger than 1000 bytes/,
      );
    } finally {
      server.close();
    }
  });
});
