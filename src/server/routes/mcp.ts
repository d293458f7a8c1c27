/** `/mcp`: the workflows as MCP tools over Streamable HTTP (mcp-http.ts), behind the app's checks. */
import type { Hono } from 'hono';
import { mountMcp } from '../mcp-http.js';
import type { ServerDeps } from './context.js';

export function registerMcp(app: Hono, { catalog, runs, store, mcp }: ServerDeps): void {
  mountMcp(app, { ...mcp, catalog, runs, store });
}
