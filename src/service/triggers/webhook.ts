/**
 * Webhook deliveries (workflow-spec.md §10): a `POST /hooks/<path>` is believed only when its signature, an HMAC
 * SHA-256 of the raw body under the trigger's secret (`secret_env`), matches in constant time; then it is the event
 * `{ name: "webhook:<path>", id, data, headers }` delivered to the triggers of that path whose secret signed it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BraidError } from '../../errors.js';
import type { Delivery, TriggerService } from './trigger-service.js';

/** Whether `given` (`sha256=<hex>`) is the HMAC SHA-256 of `body` under `secret`, compared in constant time. @beta */
export function signatureOk(secret: string, body: Uint8Array, given: string | undefined): boolean {
  if (!secret || !given) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const actual = Buffer.from(given.trim());
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The value of a `X-Braid-Signature-256` header for `body` (for senders and tests). @beta */
export const signBody = (secret: string, body: Uint8Array | string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Deliver a webhook request: `E_NOT_FOUND` when no trigger listens on the path, `E_UNAUTHORIZED` (nothing starts)
 * when no listening trigger's secret signed the body, `E_BAD_JSON` when a signed body is no JSON.
 */
export async function deliverWebhook(
  service: TriggerService,
  path: string,
  body: Uint8Array,
  headers: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>> = process.env,
  log?: (line: string) => void,
): Promise<Delivery> {
  const listening = service.webhooks(path);
  if (!listening.length) throw new BraidError('E_NOT_FOUND', `no webhook trigger listens on /hooks/${path}`);
  const signed = listening.filter(({ def }) => {
    const secret = env[def.secretEnv!];
    if (!secret) log?.(`webhook /hooks/${path}: ${def.secretEnv} is not set: its deliveries are refused`);
    return signatureOk(secret ?? '', body, headers[def.signatureHeader.toLowerCase()]);
  });
  if (!signed.length)
    throw new BraidError('E_UNAUTHORIZED', `bad or missing signature for /hooks/${path}; nothing was started`);
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new BraidError('E_BAD_JSON', 'a webhook body must be JSON');
  }
  const idHeader = signed[0].def.idHeader?.toLowerCase();
  const id =
    (idHeader && headers[idHeader]) || headers['x-braid-delivery'] || createHash('sha256').update(body).digest('hex');
  return service.deliver({ name: `webhook:${path}`, id, data, headers }, signed);
}
