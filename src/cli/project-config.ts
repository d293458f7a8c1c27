/**
 * The project config (workflow-spec.md §8): `braid.config.{json,yaml,yml,mjs,js,ts}` or a `"braid"` key in
 * `package.json`, found by walking up from the current folder as ESLint, vitest and Prettier do (lilconfig, zero
 * dependencies). It gives what flags give: tools modules, the workflows folder, MCP servers (also the allow-list of
 * servers a recorded workflow may start, §9) and defaults (provider, model, concurrency, store, outbox, cache,
 * workspace).
 * Paths resolve relative to the config file. Precedence, highest first: a flag, an environment variable, the
 * config, the default. `braid config` prints the resolved settings with where each came from.
 */
import { lilconfig, type Loader } from 'lilconfig';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { BraidError, WorkflowValidationError } from '../errors.js';
import { fromZodIssues } from '../spec/zod-issues.js';
import { mcpServersSchema, type McpServers } from '../toolkit/mcp/config.js';
import { optional } from '../core/optional.js';

export const CONFIG_FILES = [
  'package.json',
  'braid.config.json',
  'braid.config.yaml',
  'braid.config.yml',
  'braid.config.mjs',
  'braid.config.js',
  'braid.config.ts',
] as const;

const positiveInt = z.number().int().min(1);

export const projectConfigSchema = z
  .object({
    /** Tools modules, as `--tools` (repeatable) gives them. */
    tools: z.union([z.string(), z.array(z.string())], { error: 'expected a path or a list of paths' }).optional(),
    /** The workflows folder of `braid serve`, `chat` and `mcp` (`--workflows`). */
    workflows: z.string().optional(),
    /** MCP servers in the `mcpServers` shape, as `--mcp servers.json` gives them; also the allow-list (§9). */
    mcp_servers: mcpServersSchema.optional(),
    defaults: z
      .object({
        /** `openai` or `offline` (BRAID_PROVIDER). */
        provider: z.enum(['openai', 'offline']).optional(),
        /** The model name (BRAID_MODEL). */
        model: z.string().min(1).optional(),
        /** Most tasks running at once (`--concurrency`). */
        concurrency: positiveInt.optional(),
        /** Most model requests in flight (`--llm-concurrency`, BRAID_LLM_CONCURRENCY). */
        llm_concurrency: positiveInt.optional(),
        /** Where runs are kept: a folder (BRAID_HOME: records, secret, outbox) or a `redis://` URL (`--redis`). */
        store: z.string().min(1).optional(),
        /** The outbox folder of `send_email` (BRAID_OUTBOX). */
        outbox: z.string().min(1).optional(),
        /** The start-up snapshot cache folder (BRAID_CACHE_DIR). */
        cache: z.string().min(1).optional(),
        /** The only folder the file tools may touch (BRAID_WORKSPACE). */
        workspace: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A config with its paths made absolute. */
export interface ProjectConfig {
  readonly file: string;
  readonly tools?: readonly string[];
  readonly workflows?: string;
  readonly mcp_servers?: McpServers;
  readonly defaults: {
    readonly provider?: 'openai' | 'offline';
    readonly model?: string;
    readonly concurrency?: number;
    readonly llm_concurrency?: number;
    readonly store?: string;
    readonly outbox?: string;
    readonly cache?: string;
    readonly workspace?: string;
  };
}

const importLoader: Loader = async (file) => {
  const mod = file.endsWith('.ts')
    ? await (
        await optional('typescript', () => import('tsx/esm/api'))
      ).tsImport(pathToFileURL(file).href, import.meta.url)
    : await import(pathToFileURL(file).href);
  return (mod as { default?: unknown }).default ?? mod;
};
const yamlLoader: Loader = async (_file, content) => (await import('yaml')).parse(content);

/** Find and read the project config above `from` (default: the current folder); undefined when there is none. */
export async function loadProjectConfig(from = process.cwd()): Promise<ProjectConfig | undefined> {
  let found;
  try {
    found = await lilconfig('braid', {
      searchPlaces: [...CONFIG_FILES],
      packageProp: 'braid',
      stopDir: '/',
      loaders: {
        '.mjs': importLoader,
        '.js': importLoader,
        '.ts': importLoader,
        '.yaml': yamlLoader,
        '.yml': yamlLoader,
      },
    }).search(from);
  } catch (err) {
    const file = (err as { filepath?: string }).filepath;
    throw new BraidError(
      'E_CONFIG',
      `${file ?? 'braid config'}: cannot read the project config: ${(err as Error).message}`,
    );
  }
  if (!found || found.isEmpty) return undefined;
  return parseProjectConfig(found.config, found.filepath);
}

/** Check a config value read from `file`; errors name the file and the field (exit 2). */
export function parseProjectConfig(value: unknown, file: string): ProjectConfig {
  const parsed = projectConfigSchema.safeParse(value);
  const shown = file.endsWith('package.json') ? `${file} ("braid" key)` : file;
  if (!parsed.success) {
    throw new WorkflowValidationError(
      shown,
      fromZodIssues(parsed.error.issues, value, [], (path) => {
        if (path.length === 0) return Object.keys(projectConfigSchema.shape);
        if (path.length === 1 && path[0] === 'defaults')
          return Object.keys(projectConfigSchema.shape.defaults.unwrap().shape);
        return undefined;
      }),
    );
  }
  const dir = dirname(file);
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const c = parsed.data;
  const d = c.defaults ?? {};
  const tools = c.tools === undefined ? undefined : (typeof c.tools === 'string' ? [c.tools] : c.tools).map(path);
  return {
    file,
    ...(tools ? { tools } : {}),
    ...(c.workflows !== undefined ? { workflows: path(c.workflows) } : {}),
    ...(c.mcp_servers ? { mcp_servers: c.mcp_servers } : {}),
    defaults: {
      ...d,
      ...(d.store !== undefined ? { store: /^rediss?:\/\//.test(d.store) ? d.store : path(d.store) } : {}),
      ...(d.outbox !== undefined ? { outbox: path(d.outbox) } : {}),
      ...(d.cache !== undefined ? { cache: path(d.cache) } : {}),
      ...(d.workspace !== undefined ? { workspace: path(d.workspace) } : {}),
    },
  };
}

/** The environment variable each default sets when the environment does not set it already. */
export const ENV_OF = {
  provider: 'BRAID_PROVIDER',
  model: 'BRAID_MODEL',
  llm_concurrency: 'BRAID_LLM_CONCURRENCY',
  outbox: 'BRAID_OUTBOX',
  cache: 'BRAID_CACHE_DIR',
  workspace: 'BRAID_WORKSPACE',
} as const;

/** `store`: a Redis URL sets BRAID_REDIS_URL, a folder BRAID_HOME. */
export const storeEnv = (store: string) => (/^rediss?:\/\//.test(store) ? 'BRAID_REDIS_URL' : 'BRAID_HOME');

/** What this process took from the project config: the config, and the variables it set. */
let state: { config?: ProjectConfig; setEnv: ReadonlySet<string> } = { setEnv: new Set() };

/** The project config this command read (after {@link applyProjectConfig}). */
export const projectConfig = (): ProjectConfig | undefined => state.config;
/** Variables the project config set (they were not in the environment). */
export const envSetByConfig = (): ReadonlySet<string> => state.setEnv;
/**
 * The MCP servers the project config names: started like `--mcp` servers when no `--mcp` is given, and the
 * allow-list a recorded workflow's `mcp_servers` must match to be resumed or taken over (§9).
 */
export const configuredMcpServers = (): McpServers | undefined => state.config?.mcp_servers;

/** The options a config gives, by the attribute name of the command's option. */
const OPTION_OF = { tools: 'tools', workflows: 'workflows', concurrency: 'concurrency' } as const;

interface CommandLike {
  readonly options: readonly { attributeName(): string }[];
  getOptionValueSource(key: string): string | undefined;
  setOptionValueWithSource(key: string, value: unknown, source: 'config'): unknown;
}

/**
 * Read the project config and apply it to `command` (the one about to run): options the command line did not
 * give take the config's value; defaults become environment variables where the environment has none.
 */
export async function applyProjectConfig(command: CommandLike, from = process.cwd()): Promise<void> {
  const config = await loadProjectConfig(from);
  const setEnv = new Set<string>();
  state = { config, setEnv };
  if (!config) return;
  const set = (name: string, value: unknown) => {
    if (value === undefined || process.env[name]) return;
    process.env[name] = String(value);
    setEnv.add(name);
  };
  for (const [key, name] of Object.entries(ENV_OF)) set(name, config.defaults[key as keyof typeof ENV_OF]);
  if (config.defaults.store) set(storeEnv(config.defaults.store), config.defaults.store);
  const values = { tools: config.tools, workflows: config.workflows, concurrency: config.defaults.concurrency };
  for (const [key, value] of Object.entries(values)) {
    const attr = OPTION_OF[key as keyof typeof OPTION_OF];
    if (value === undefined || !command.options.some((o) => o.attributeName() === attr)) continue;
    const source = command.getOptionValueSource(attr);
    if (source === 'cli' || source === 'env') continue;
    command.setOptionValueWithSource(attr, Array.isArray(value) ? [...value] : value, 'config');
  }
}
