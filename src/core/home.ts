/**
 * Where braid keeps its files: one folder, `$BRAID_HOME` (default `.braid` in the current folder), holds the run
 * records (`runs/`), the secret, planned workflows (`plans/`) and the outbox (`outbox/`, unless `BRAID_OUTBOX`
 * names another). One function each, so every tool and command (the CLI, `braid serve`, `braid mcp`) agrees:
 * an email sent through an MCP client lands beside the run that sent it, not in the client's working folder.
 * docs/environment.md lists every variable.
 */
import { resolve } from 'node:path';

/** `$BRAID_HOME`, else `.braid` in the current folder, as an absolute path. */
export const braidHome = (): string => resolve(process.env.BRAID_HOME || '.braid');

/** Where `send_email` writes `.eml` files when no SMTP server is set: `$BRAID_OUTBOX`, else `$BRAID_HOME/outbox`. */
export const outboxDir = (): string => resolve(process.env.BRAID_OUTBOX || resolve(braidHome(), 'outbox'));
