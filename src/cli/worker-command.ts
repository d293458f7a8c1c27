/**
 * `braid worker`: take attempts from Redis and run them with this machine's tools (docs/scaling-out.md).
 * With `--coordinate` it also continues runs whose coordinator died. SIGTERM or Ctrl-C: stop taking
 * attempts, let running ones finish within the grace period, exit.
 */
import { once } from 'node:events';
import { BraidError } from '../errors.js';
import { BraidWorker } from '../executors/bullmq-worker.js';
import { EXIT } from './exit.js';
import { safeText } from './format.js';
import { modelFor, registryFor, type RunFlags } from './run-command.js';
import { cliExecutor, cliTakeover, redisStore, redisUrl, shownUrl } from './store.js';
import { admitFromRecords } from '../service/job-admission.js';
import { configuredServers } from './mcp-option.js';

export interface WorkerFlags extends Pick<RunFlags, 'tools' | 'concurrency' | 'llmConcurrency' | 'mcp'> {
  lockDuration?: number;
  grace?: number;
  coordinate?: boolean;
  quiet?: boolean;
  /** With --coordinate: also fire the triggers of this folder's workflows (workflow-spec.md §10). */
  workflows?: string;
}

export async function workerCommand(flags: WorkerFlags): Promise<number> {
  const url = redisUrl();
  if (flags.workflows && !flags.coordinate)
    throw new BraidError('E_BAD_ARGUMENT', '--workflows fires triggers, which a worker does only with --coordinate');
  if (!url)
    throw new BraidError('E_CONFIG', 'braid worker needs Redis: give --redis redis://host:6379 or set BRAID_REDIS_URL');
  const store = await redisStore('braid worker'); // fails at once, naming the URL, when Redis does not answer
  const registry = await registryFor(flags.tools);
  const llm = modelFor(flags);
  const say = (line: string) => void (flags.quiet || process.stderr.write(`${line}\n`));
  const worker = new BraidWorker({
    redis: url,
    tools: registry.list(),
    llm,
    concurrency: flags.concurrency,
    lockDurationMs: flags.lockDuration,
    telemetry: Boolean(process.env.BRAID_OTEL),
    admit: admitFromRecords(store),
    onRefused: (jobId, queue, reason) =>
      process.stderr.write(`braid worker: refused job ${safeText(jobId)} of queue ${queue}: ${safeText(reason)}\n`),
    onAttempt: (r, result) =>
      say(
        `  ${result.status === 'succeeded' ? '✓' : result.status === 'failed' ? '✗' : '·'} ${safeText(r.runId)} ${safeText(r.taskId)} (${safeText(r.tool)}, attempt ${r.attempt}) ${result.status}${'durationMs' in result ? ` in ${Math.round(result.durationMs)} ms` : ''}${result.status === 'failed' ? `: ${safeText(result.error.message)}` : ''}`,
      ),
  });
  await worker.start();
  const takeover = flags.coordinate
    ? await cliTakeover(
        'braid worker',
        {
          tools: registry.list(),
          llm,
          executor: await cliExecutor(),
          // the allow-list of servers an orphaned run may start (§9)
          mcp: await configuredServers(flags.mcp),
        },
        say,
      )
    : undefined;
  const triggers = flags.workflows ? await workerTriggers(flags) : undefined;
  triggers?.start();
  say(
    `braid worker ${process.pid}: ${registry.list().length} tools, queues ${worker.queues.join(', ')}, concurrency ${flags.concurrency ?? 4}, Redis ${shownUrl(url)}${takeover ? ', continuing orphaned runs' : ''}\n(SIGTERM or Ctrl-C stops it: running attempts finish first, up to ${Math.round((flags.grace ?? 30_000) / 1000)} s)`,
  );
  const signal = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]).then(() => 'stop');
  say(`braid worker: ${signal}ping: no new attempts; waiting for running ones`);
  takeover?.stop();
  await triggers?.stop();
  await worker.close(flags.grace ?? 30_000);
  return EXIT.ok;
}

/** The triggers of `--workflows` (with `--coordinate`): fired here, each due time and event once across processes. */
async function workerTriggers(flags: WorkerFlags) {
  const { setUp } = await import('./chat.js');
  const { serveTriggers } = await import('./trigger-command.js');
  const setup = await setUp({ workflows: flags.workflows, tools: flags.tools, concurrency: flags.concurrency });
  return serveTriggers(setup, { workflows: flags.workflows }, 'braid worker');
}
