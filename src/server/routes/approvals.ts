/** `GET /approvals`: the inbox of tasks waiting for a human decision, across runs (service/approvals.ts). */
import type { Hono } from 'hono';
import { pendingApprovals } from '../../service/approvals.js';
import type { ServerDeps } from './context.js';

export function registerApprovals(app: Hono, deps: ServerDeps): void {
  app.get('/approvals', async (c) => {
    const { store, summaries } = deps;
    if (!store) return c.json([]);
    // The run list knows which runs wait (folded once per change); only those records are read again.
    const waiting = await summaries.list({ status: 'waiting', limit: 1000 });
    return c.json(await pendingApprovals(store, { runIds: waiting.map((r) => r.runId) }));
  });
}
