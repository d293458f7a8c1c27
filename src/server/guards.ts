/**
 * Who may talk to the server, and what they may send: the middleware the app puts in front of its routes (the Host,
 * the Origin, the bearer token, JSON POST bodies). Each refusal is a `BraidError`, answered by the app's error
 * handler.
 */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { BraidError } from '../errors.js';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** The host name of a `Host` header (`[::1]:8787` → `[::1]`), lower case; undefined when malformed. */
function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.exec(host.trim());
  return m?.[1].toLowerCase().replace(/\.$/, '');
}

/** Whether an `Origin` names the same server as the request's `Host` (scheme aside: this server speaks HTTP). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      host !== undefined &&
      url.host.toLowerCase() === host.trim().toLowerCase()
    );
  } catch {
    return false; // "null" (a sandboxed frame, a file) and anything unparsable
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Without a token only loopback names (and `allowedHosts`) are served (DNS rebinding); a cross-origin Origin is
 * refused with or without a token (no CORS: browsers get no answer to read).
 */
export function hostAndOrigin(token: string | undefined, allowedHosts: readonly string[] = []): MiddlewareHandler {
  const allowed = new Set([...LOOPBACK_HOSTS, ...allowedHosts.map((h) => h.toLowerCase())]);
  return async (c, next) => {
    const host = c.req.header('host');
    if (!token && !allowed.has(hostName(host) ?? '')) {
      throw new BraidError(
        'E_FORBIDDEN',
        `host "${(host ?? '').slice(0, 100)}" is not served without a token (allowed: ${[...allowed].join(', ')}; add names with --allowed-hosts)`,
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !sameOrigin(origin, host))
      throw new BraidError('E_FORBIDDEN', `cross-origin request from ${origin.slice(0, 100)} refused`);
    return next();
  };
}

/** `Authorization: Bearer <token>` when the server has a token. */
export function bearerToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!token) return next();
    const header = c.req.header('authorization') ?? '';
    if (!header.startsWith('Bearer ') || !sameToken(header.slice(7), token))
      throw new BraidError('E_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer $BRAID_TOKEN)');
    return next();
  };
}

/**
 * Every POST carries JSON: a browser cannot send that cross-site without a CORS preflight this server never grants
 * (forms and text/plain bodies, the cross-site requests a browser sends freely, are refused here).
 */
export const jsonPosts: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== 'POST') return next();
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json')
    throw new BraidError(
      'E_UNSUPPORTED_MEDIA_TYPE',
      `POST bodies must be JSON (Content-Type: application/json), got ${type ? `"${type.slice(0, 80)}"` : 'none'}`,
    );
  return next();
};
