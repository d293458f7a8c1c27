/**
 * Every fenced block of README.md and docs/*.md runs, or says why not (docs/development.md, "Documentation
 * snippets"). Each document gets a scratch folder of symlinks to the checkout's entries, so `examples/...` and
 * `node bin/braid.mjs` work there and whatever a block writes stays there; its blocks run in order, sharing
 * that folder and its `BRAID_HOME`. `braid` (and `npx braid`) is this checkout's CLI; the model is offline.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './support/cli.js';

type Lang = 'shell' | 'console' | 'data' | 'code' | 'text';

interface Block {
  doc: string;
  line: number;
  lang: string;
  body: string;
  markers: Record<string, string>;
}

const LANGS: Record<string, Lang> = {
  sh: 'shell',
  bash: 'shell',
  console: 'console',
  json: 'data',
  yaml: 'data',
  js: 'code',
  mjs: 'code',
  ts: 'code',
  text: 'text',
};
const MARKERS = new Set(['not-run', 'file', 'args']);

const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The fenced blocks of a document, with the `<!-- key: value -->` comments right above each. */
function blocksOf(doc: string): { blocks: Block[]; problems: string[] } {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const blocks: Block[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const markers: Record<string, string> = {};
    for (let j = start - 1; j >= 0; j--) {
      if (lines[j].trim() === '') continue;
      const m = /^<!--\s*([a-z-]+)\s*(?::\s*(.*?))?\s*-->$/.exec(lines[j].trim());
      if (!m) break;
      if (!MARKERS.has(m[1])) problems.push(`${doc}:${j + 1}: unknown marker "${m[1]}"`);
      markers[m[1]] = m[2] ?? '';
    }
    const where = `${doc}:${start + 1}`;
    if (!open[1]) problems.push(`${where}: a block without a language (sh, console, json, yaml, js, ts or text)`);
    else if (!LANGS[open[1]]) problems.push(`${where}: unknown language "${open[1]}"`);
    if ('not-run' in markers && !markers['not-run'].trim()) problems.push(`${where}: not-run needs a reason`);
    blocks.push({ doc, line: start + 1, lang: open[1], body: body.join('\n') + '\n', markers });
  }
  return { blocks, problems };
}

/** A command with its expected exit code and, in a console block, the output lines shown after it. */
interface Command {
  cmd: string;
  exit: number;
  expect: string[];
}

function commandsOf(block: Block): Command[] {
  const commands: Command[] = [];
  const lines = block.body.replace(/\n$/, '').split('\n');
  const console = LANGS[block.lang] === 'console';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (console && !line.startsWith('$ ')) {
      commands.at(-1)?.expect.push(line);
      continue;
    }
    if (console) line = line.slice(2);
    if (!line.trim() || /^\s*#/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]}`;
    const exit = /#\s*exit\s+(\d+)\s*$/.exec(line);
    commands.push({ cmd: line.replaceAll('<runId>', 'latest'), exit: exit ? Number(exit[1]) : 0, expect: [] });
  }
  return commands;
}

/** Numbers, run ids and spacing vary from run to run; `...` in what the docs show matches anything. */
const RUN_ID = /\d{8}T\d{6}-\d+-[0-9a-f]{6}/g;
const loose = (line: string) => line.replace(RUN_ID, '<runId>').replace(/\d+/g, 'N').replace(/\s+/g, ' ').trim();
const pattern = (shown: string) =>
  new RegExp(
    `^${loose(shown)
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replaceAll('\\.\\.\\.', '.*')}$`,
  );

function run(cmd: string, cwd: string, env: NodeJS.ProcessEnv, timeout = 60_000) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn('bash', ['-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe('documentation snippets', () => {
  it('every block names its language, and every not-run marker its reason', () => {
    expect(DOCS.flatMap((doc) => blocksOf(doc).problems)).toEqual([]);
  });

  for (const doc of DOCS) {
    const blocks = blocksOf(doc).blocks.filter((b) => LANGS[b.lang] && LANGS[b.lang] !== 'text');
    if (!blocks.length) continue;
    describe(doc, () => {
      let scratch = '';
      let env: NodeJS.ProcessEnv = {};
      const toolsModules: string[] = [];

      beforeAll(() => {
        scratch = mkdtempSync(join(tmpdir(), 'braid-doc-'));
        for (const entry of readdirSync(ROOT))
          if (!entry.startsWith('.')) symlinkSync(join(ROOT, entry), join(scratch, entry));
        const bin = join(scratch, '.snippet-bin');
        mkdirSync(bin);
        writeFileSync(join(bin, 'braid'), `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(BIN)} "$@"\n`);
        chmodSync(join(bin, 'braid'), 0o755);
        env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BRAID_|SMTP_URL|OPENAI_)/.test(k)));
        Object.assign(env, {
          BRAID_HOME: join(scratch, '.braid'),
          OPENAI_API_KEY: '',
          NO_COLOR: '1',
          TERM: 'dumb',
          npm_config_offline: 'true',
          PATH: `${bin}:${process.env.PATH}`,
        });
      });
      afterAll(() => rmSync(scratch, { recursive: true, force: true }));

      /** Run one command line of a block (npx braid is braid) and return its exit code and output. */
      const sh = (cmd: string) =>
        run(`npx() { if [ "$1" = braid ]; then shift; braid "$@"; else command npx "$@"; fi; }\n${cmd}`, scratch, env);

      for (const block of blocks) {
        const kind = LANGS[block.lang];
        const title = `${block.doc}:${block.line} (${block.lang})`;
        if ('not-run' in block.markers) {
          it.skip(`${title}: not run: ${block.markers['not-run']}`, () => {});
          continue;
        }
        it(title, { timeout: 120_000 }, async () => {
          const ext = { js: 'mjs', mjs: 'mjs', ts: 'ts', json: 'json', yaml: 'yaml' }[block.lang] ?? block.lang;
          const file = block.markers.file ?? `snippet-${block.line}.${ext}`;
          const failures: string[] = [];
          const check = async (cmd: string, exit = 0) => {
            const { code, out } = await sh(cmd);
            if (code !== exit) failures.push(`$ ${cmd}\nexited ${code}, expected ${exit}:\n${out.slice(-3000)}`);
            return out;
          };
          const tools = toolsModules.map((m) => `--tools ./${m}`).join(' ');

          if (kind === 'shell' || kind === 'console') {
            for (const { cmd, exit, expect: shown } of commandsOf(block)) {
              const out = await check(cmd, exit);
              const printed = out.split('\n').map(loose);
              const missing = shown.filter(
                (l) => l.trim() && l.trim() !== '...' && !printed.some((p) => pattern(l).test(p)),
              );
              if (missing.length) failures.push(`$ ${cmd}\ndid not print:\n${missing.join('\n')}\nit printed:\n${out}`);
            }
          } else if (kind === 'data') {
            writeFileSync(join(scratch, file), block.body);
            const data = block.lang === 'json' ? JSON.parse(block.body) : parseYaml(block.body);
            const workflow =
              (Array.isArray(data) && data.every((t) => t && typeof t === 'object' && 'tool' in t)) ||
              (data && typeof data === 'object' && Array.isArray(data.tasks));
            if (workflow) await check(`braid validate ./${file} ${tools} ${block.markers.args ?? ''}`);
            else if (!block.markers.file)
              failures.push(`${title}: data that is not a workflow needs <!-- file: name -->`);
          } else {
            writeFileSync(join(scratch, file), block.body);
            if (/export default workflow\(/.test(block.body)) await check(`braid validate ./${file} ${tools}`);
            else if (/^export /m.test(block.body) && !/\bawait\b/.test(block.body)) {
              const out = await check(`braid tools --tools ./${file}`);
              for (const [, name] of block.body.matchAll(/\bname: '([\w.-]+)'/g))
                if (!out.includes(name)) failures.push(`braid tools --tools ./${file} does not list ${name}`);
              toolsModules.push(file);
            } else await check(block.lang === 'ts' ? `node --import tsx ./${file}` : `node ./${file}`);
          }
          expect(failures, title).toEqual([]);
        });
      }
    });
  }
});
