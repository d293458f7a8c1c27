/** `braid chat` and `braid serve`: workflows started from a conversation or over HTTP. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { WorkflowAgent, type AgentChunk } from '../../agents/workflow-agent.js';
import { BraidError } from '../errors.js';
import type { LlmProvider } from '../llm/types.js';
import { packageRoot } from '../paths.js';
import { WorkflowCatalog } from '../service/catalog.js';
import { RunManager } from '../service/run-manager.js';
import { EXIT } from './exit.js';
import { safeLines, safeText } from './format.js';
import { describeEvent } from './progress.js';
import { loadUserTools, modelFor, registryFor } from './run-command.js';
import { cliExecutor, cliStore, cliTakeover, redisUrl, shownUrl } from './store.js';
import { configuredServers } from './mcp-option.js';
import { describeThrown } from '../core/thrown.js';
import { optional } from '../core/optional.js';

export interface ServiceFlags {
  workflows?: string;
  tools?: string[];
  store?: boolean;
  concurrency?: number;
  llmConcurrency?: number;
}

/** `--workflows`, else ./workflows when it exists, else braid's examples. */
function workflowsDir(flag?: string): string {
  if (flag) return resolve(flag);
  if (existsSync('workflows')) return resolve('workflows');
  return join(packageRoot(), 'examples');
}

/**
 * The catalog of the workflows folder, a run manager over it (recording to the default store unless --no-store) and the
 * model: shared by chat, serve and mcp.
 */
export async function setUp(
  flags: ServiceFlags,
): Promise<{ catalog: WorkflowCatalog; runs: RunManager; llm: LlmProvider; dir: string }> {
  const dir = workflowsDir(flags.workflows);
  if (!existsSync(dir)) throw new BraidError('E_BAD_ARGUMENT', `--workflows: no folder ${dir}`);
  const catalog = await WorkflowCatalog.load(dir, { tools: await loadUserTools(flags.tools) });
  for (const p of catalog.problems) process.stderr.write(`braid: skipped: ${p}\n`);
  if (!catalog.list().length) throw new BraidError('E_CONFIG', `no valid workflow in ${dir}`);
  const llm = modelFor(flags);
  const runs = new RunManager({
    catalog,
    llm,
    concurrency: flags.concurrency,
    executor: await cliExecutor(flags.concurrency),
    ...(flags.store === false ? {} : { store: await cliStore() }),
  });
  return { catalog, runs, llm, dir };
}

const providerLine = (llm: LlmProvider) =>
  llm.provider === 'offline'
    ? 'offline provider (deterministic intent matching, no network; set OPENAI_API_KEY for a real model)'
    : `${llm.provider} ${llm.model}`;

const HELP = `Type what you want done, e.g. "write an email about solar kites to the team".
Commands: /workflows  list what I can run
          /runs       runs started in this chat
          /help       this help
          /quit       leave (Ctrl-D works too; Ctrl-C cancels a running workflow)`;

export async function chatCommand(flags: ServiceFlags): Promise<number> {
  const { catalog, runs, llm, dir } = await setUp(flags);
  const agent = new WorkflowAgent({ catalog, runs, llm });
  const out = process.stdout;
  out.write(`braid chat: ${catalog.list().length} workflows from ${dir}; LLM: ${providerLine(llm)}\n${HELP}\n`);
  const rl = createInterface({
    input: process.stdin,
    output: out,
    prompt: 'you> ',
    terminal: Boolean(process.stdin.isTTY),
  });
  let turn: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (turn) {
      out.write('\ncancelling the run...\n');
      turn.abort();
    } else rl.close();
  });
  rl.prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (!process.stdin.isTTY && line) out.write(`${line}\n`); // echo piped input so the transcript reads well
    if (!line) {
      rl.prompt();
      continue;
    }
    if (line === '/quit' || line === '/exit') break;
    if (line === '/help') out.write(`${HELP}\n`);
    else if (line === '/workflows')
      out.write(
        `${catalog
          .list()
          .map((e) => `  ${e.name}${e.confirm ? ' (confirms first)' : ''}: ${e.description}`)
          .join('\n')}\n`,
      );
    else if (line === '/runs') {
      const list = runs.list();
      out.write(
        list.length
          ? `${list.map((h) => `  ${h.runId}  ${h.workflow}  ${h.result?.status ?? (h.error ? 'error' : 'running')}`).join('\n')}\n`
          : '  no runs yet\n',
      );
    } else if (line.startsWith('/')) out.write(`unknown command ${line}; /help lists them\n`);
    else {
      turn = new AbortController();
      try {
        for await (const chunk of agent.send(line, turn.signal)) out.write(render(chunk));
      } catch (err) {
        out.write(`braid> error: ${safeLines(describeThrown(err).message)}\n`);
      } finally {
        turn = undefined;
      }
    }
    rl.prompt();
  }
  rl.close();
  return EXIT.ok;
}

function render(chunk: AgentChunk): string {
  switch (chunk.type) {
    case 'text':
    case 'ask':
    case 'confirm':
      return `braid> ${safeLines(chunk.text)}\n`;
    case 'run.started':
      return `  ▶ ${safeText(chunk.workflow)} started (run ${chunk.runId})\n`;
    case 'event': {
      const e = chunk.event;
      if (
        e.type === 'task.ready' ||
        e.type === 'llm.call' ||
        e.type === 'run.started' ||
        e.type === 'run.finished' ||
        e.type === 'task.log'
      )
        return '';
      return `  │ ${describeEvent(e)}\n`;
    }
    case 'run.finished':
      return `  ■ ${safeText(chunk.result.workflow)} ${chunk.result.status} (braid show ${chunk.runId})\n`;
  }
}

export async function serveCommand(
  flags: ServiceFlags & { port?: number; host?: string; allowedHosts?: string },
): Promise<number> {
  const { catalog, runs, llm, dir } = await setUp(flags);
  const triggers = (await import('./trigger-command.js')).serveTriggers({ catalog, runs, dir }, flags);
  const allowedHosts = flags.allowedHosts
    ?.split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const { startServer } = await optional('serve', () => import('../server/serve.js'));
  const server = await startServer({
    catalog,
    runs,
    llm,
    store: runs.options.store,
    token: process.env.BRAID_TOKEN || undefined,
    port: flags.port,
    host: flags.host,
    allowedHosts,
    triggers,
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE')
      throw new BraidError(
        'E_CONFIG',
        `port ${flags.port ?? 8787} on ${flags.host ?? '127.0.0.1'} is in use (another braid serve?); pick another with --port`,
      );
    if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL')
      throw new BraidError(
        'E_CONFIG',
        `cannot listen on ${flags.host ?? '127.0.0.1'}:${flags.port ?? 8787}: ${err.message}`,
      );
    throw err;
  });
  // With Redis, this server also continues runs whose coordinator died (any braid serve or worker --coordinate may).
  const url = redisUrl();
  const takeover =
    url && runs.options.store
      ? await cliTakeover(
          'braid serve',
          {
            tools: (await registryFor(flags.tools)).list(),
            llm,
            executor: runs.options.executor,
            mcp: await configuredServers(undefined), // the allow-list (§9)
          },
          (line) => void process.stderr.write(`${line}\n`),
        )
      : undefined;
  process.stderr.write(
    `braid serve: ${server.url} (dashboard and API; ${catalog.list().length} workflows from ${dir}; LLM: ${providerLine(llm)}${process.env.BRAID_TOKEN ? '; bearer token required' : ''}${url ? `; runs and attempts in Redis at ${shownUrl(url)}` : ''})\n`,
  );
  triggers?.start();
  if (triggers) process.stderr.write(`braid serve: firing ${triggers.size} triggers (braid triggers lists them)\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      takeover?.stop();
      void triggers?.stop();
      process.stderr.write('\nstopping: cancelling running workflows\n');
      for (const h of runs.list()) if (!h.finished) h.cancel();
      void Promise.allSettled(runs.list().map((h) => h.done))
        .then(() => server.close())
        .then(done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.ok;
}
