/**
 * `braid config`: the settings a command here would use, each with where it came from (`config <file>`,
 * `env <NAME>`, `default`), so "why did my email land there?" has an answer. Reads what
 * {@link applyProjectConfig} applied; `--json` prints the same as one object.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { braidHome, outboxDir } from '../core/home.js';
import { EXIT } from './exit.js';
import { safeText } from './format.js';
import { CONFIG_FILES, envSetByConfig, projectConfig } from './project-config.js';

export interface Setting {
  readonly value: unknown;
  readonly source: string;
}

export function resolvedSettings(): { file?: string; settings: Record<string, Setting> } {
  const config = projectConfig();
  const byConfig = envSetByConfig();
  const from = config ? `config ${config.file}` : 'config';
  /** A setting an environment variable carries (set by the config or by the user), else its default. */
  const env = (name: string, fallback: unknown, note = 'default'): Setting => {
    const v = process.env[name];
    if (!v) return { value: fallback, source: note };
    return { value: v, source: byConfig.has(name) ? from : `env ${name}` };
  };
  const cacheDefault = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'braid');
  const settings: Record<string, Setting> = {
    tools: config?.tools ? { value: config.tools, source: from } : { value: [], source: 'default' },
    workflows: config?.workflows
      ? { value: config.workflows, source: from }
      : { value: resolve('workflows'), source: "default (./workflows, else braid's examples)" },
    mcp_servers: config?.mcp_servers
      ? { value: Object.keys(config.mcp_servers), source: from }
      : { value: [], source: 'default' },
    provider: env('BRAID_PROVIDER', process.env.OPENAI_API_KEY ? 'openai' : 'offline', 'default (OPENAI_API_KEY)'),
    model: env('BRAID_MODEL', 'gpt-4o-mini'),
    concurrency: config?.defaults.concurrency
      ? { value: config.defaults.concurrency, source: from }
      : { value: 'unbounded', source: 'default' },
    llm_concurrency: env('BRAID_LLM_CONCURRENCY', 8),
    store: process.env.BRAID_REDIS_URL
      ? env('BRAID_REDIS_URL', undefined)
      : { ...env('BRAID_HOME', braidHome()), value: braidHome() },
    outbox: { ...env('BRAID_OUTBOX', outboxDir(), 'default ($BRAID_HOME/outbox)'), value: outboxDir() },
    cache: env('BRAID_CACHE_DIR', cacheDefault),
    workspace: env('BRAID_WORKSPACE', resolve('.'), 'default (the current folder)'),
  };
  return { ...(config ? { file: config.file } : {}), settings };
}

export function configCommand(flags: { json?: boolean }): number {
  const { file, settings } = resolvedSettings();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ file: file ?? null, settings }, null, 2)}\n`);
    return EXIT.ok;
  }
  const lines = [
    file
      ? `project config: ${file}`
      : `project config: none (looked for ${CONFIG_FILES.filter((f) => f !== 'package.json').join(', ')} or a "braid" key in package.json, from ${process.cwd()} up)`,
  ];
  const width = Math.max(...Object.keys(settings).map((k) => k.length));
  for (const [key, { value, source }] of Object.entries(settings)) {
    const shown = Array.isArray(value) ? value.join(', ') || '(none)' : String(value ?? '(none)');
    lines.push(`${key.padEnd(width)}  ${safeText(shown)}  [${safeText(source)}]`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
