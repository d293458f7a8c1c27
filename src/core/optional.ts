/**
 * braid's optional packages: what `npm install braid zod` does not install (package.json `peerDependencies`
 * marked optional in `peerDependenciesMeta`). Every feature that needs one loads it through {@link optional},
 * so a missing package is an `E_CONFIG` error (the CLI's exit 2) naming the feature and the `npm install` that
 * enables it, never Node's "Cannot find package" from deep inside braid.
 */
import { createRequire } from 'node:module';
import { BraidError } from '../errors.js';

/**
 * Each feature that needs optional packages, and which (README "Use braid from your own project" lists them;
 * test/optional.test.ts checks that this, package.json and the README agree). The subpaths `braid/langchain`
 * (`@langchain/core`) and `braid/ai-sdk` (`ai`) are for projects that already have those.
 */
export const NEEDS = {
  openai: { feature: 'the OpenAI provider (OPENAI_API_KEY, BRAID_PROVIDER=openai)', packages: ['openai'] },
  redis: { feature: 'Redis (--redis, BRAID_REDIS_URL)', packages: ['bullmq', 'ioredis'] },
  worker: { feature: 'braid worker', packages: ['bullmq', 'ioredis'] },
  queueTracing: {
    feature: 'tracing BullMQ jobs (BRAID_OTEL with Redis)',
    packages: ['bullmq-otel', '@opentelemetry/api'],
  },
  tracing: { feature: 'tracing (BRAID_OTEL)', packages: ['@opentelemetry/api'] },
  logs: { feature: 'logs (--log-file, BRAID_LOG_FILE, BRAID_LOG_LEVEL)', packages: ['pino', 'pino-pretty'] },
  serve: {
    feature: 'braid serve',
    packages: ['hono', '@hono/node-server', '@modelcontextprotocol/sdk', 'htm', '@dagrejs/dagre'],
  },
  mcpServer: { feature: 'braid mcp', packages: ['@modelcontextprotocol/sdk'] },
  mcpClient: { feature: 'MCP servers (--mcp, mcp_servers)', packages: ['@modelcontextprotocol/sdk'] },
  typescript: { feature: 'TypeScript modules (--tools x.ts, braid.config.ts)', packages: ['tsx'] },
  calculate: { feature: 'the calculate tool', packages: ['mathjs'] },
  smtp: { feature: 'send_email over SMTP (SMTP_URL)', packages: ['nodemailer'] },
} as const satisfies Record<string, { feature: string; packages: readonly string[] }>;

export type Need = keyof typeof NEEDS;

/**
 * Load what a feature needs: `load` imports one of its packages (or a braid module that imports them). If that
 * fails because one of the feature's packages is not installed, the error names the feature and the
 * `npm install` of all its packages; any other failure (a package that is there but broken) is thrown as it is.
 *
 * @example const { Queue } = await optional('worker', () => import('bullmq'));
 */
export async function optional<T>(need: Need, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw missingPackageError(err, need) ?? err;
  }
}

/** {@link optional} for a synchronous `require` (CommonJS packages, `require.resolve` of a package's file). */
export function optionalSync<T>(need: Need, load: () => T): T {
  try {
    return load();
  } catch (err) {
    throw missingPackageError(err, need) ?? err;
  }
}

const require = createRequire(import.meta.url);

/** `require.resolve(specifier)` (e.g. mathjs's single-file build), the feature's error when it is not installed. */
export function resolveOptional(need: Need, specifier: string): string {
  return optionalSync(need, () => require.resolve(specifier));
}

/** The `E_CONFIG` error for `err` when it is one of the feature's packages not being installed, else undefined. */
export function missingPackageError(err: unknown, need: Need): BraidError | undefined {
  const { feature, packages } = NEEDS[need] as { feature: string; packages: readonly string[] };
  const missing = missingPackage(err);
  if (!missing || !packages.includes(missing)) return undefined;
  const what =
    packages.length === 1
      ? `${missing}, an optional package not installed here`
      : `${packages.slice(0, -1).join(', ')} and ${packages.at(-1)}, optional packages (${missing} is not installed here)`;
  return new BraidError('E_CONFIG', `${feature} needs ${what}: npm install ${packages.join(' ')}`, {
    cause: err,
  });
}

/** The package a module-not-found error is about (`@scope/name` or `name`), else undefined. */
export function missingPackage(err: unknown): string | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if ((code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') || typeof message !== 'string') return undefined;
  // ESM: "Cannot find package 'x' imported from ..."; CommonJS: "Cannot find module 'x/lib/y.js'\nRequire stack: ..."
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(message);
  if (!m || m[1].startsWith('.') || m[1].startsWith('/') || m[1].startsWith('node:')) return undefined;
  const parts = m[1].split('/');
  return parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
