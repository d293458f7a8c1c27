/** `GET /health`: whether the server answers. It needs no token (a load balancer asks it), only an allowed Host. */
import type { Hono } from 'hono';

export function registerHealth(app: Hono): void {
  app.get('/health', (c) => c.json({ ok: true }));
}
