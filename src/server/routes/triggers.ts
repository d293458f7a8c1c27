/**
 * Runs that start themselves, over HTTP (workflow-spec.md §10): `POST /events` delivers an event (API token as every
 * route), `GET /triggers` lists the triggers with their next fire times and last fires, `POST /triggers/:id/pause`,
 * `/resume` and `/fire` (now, at a time, or a range) are the operators' controls. `POST /hooks/<path>` (registered
 * with the public routes: a webhook sender has no API token) is believed only with a good signature.
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { BraidError } from '../../errors.js';
import type { TriggerService } from '../../service/triggers/trigger-service.js';
import { deliverWebhook } from '../../service/triggers/webhook.js';
import { readJson, type ServerDeps } from './context.js';

const eventBody = z.strictObject({
  name: z.string().min(1).max(200),
  id: z.string().min(1).max(200).optional(),
  data: z.unknown().optional(),
});
const when = z.iso.datetime({ offset: true });
const fireBody = z.strictObject({ at: when.optional(), from: when.optional(), to: when.optional() });

function service(deps: ServerDeps): TriggerService {
  if (!deps.triggers)
    throw new BraidError('E_NOT_FOUND', 'this server fires no triggers (none of its workflows has any)');
  return deps.triggers;
}

export function registerTriggers(app: Hono, deps: ServerDeps): void {
  app.post('/events', async (c) => {
    const body = await readJson(c, eventBody);
    return c.json(await service(deps).deliver(body));
  });
  app.get('/triggers', async (c) => c.json({ triggers: deps.triggers ? await deps.triggers.list() : [] }));
  app.post('/triggers/:id/pause', async (c) => {
    await service(deps).pause(c.req.param('id'));
    return c.json({ id: c.req.param('id'), state: 'paused' });
  });
  app.post('/triggers/:id/resume', async (c) => {
    await service(deps).resume(c.req.param('id'));
    return c.json({ id: c.req.param('id'), state: 'active' });
  });
  app.post('/triggers/:id/fire', async (c) => {
    const text = await c.req.text();
    const body = text.trim() ? fireBody.parse(JSON.parse(text)) : {};
    const date = (s?: string) => (s ? new Date(s) : undefined);
    return c.json(
      await service(deps).fire(c.req.param('id'), { at: date(body.at), from: date(body.from), to: date(body.to) }),
    );
  });
}

/** `POST /hooks/<path>`: before the token check, with its own body limit; the signature is its authentication. */
export function registerHooks(app: Hono, deps: ServerDeps): void {
  const maxSize = deps.maxHookBytes ?? 1024 * 1024;
  app.post(
    '/hooks/*',
    bodyLimit({
      maxSize,
      onError: () => {
        throw new BraidError('E_TOO_LARGE', `webhook body over ${maxSize} bytes`);
      },
    }),
    async (c) => {
      const path = c.req.path.replace(/^\/hooks\//, '');
      const body = new Uint8Array(await c.req.arrayBuffer());
      const headers: Record<string, string> = {};
      c.req.raw.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      const log = (line: string) => void process.stderr.write(`braid serve: ${line}\n`);
      return c.json(await deliverWebhook(service(deps), path, body, headers, process.env, log));
    },
  );
}
