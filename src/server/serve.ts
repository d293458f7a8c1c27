/** Start the HTTP API on a port; refuses to listen beyond loopback without a bearer token. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { BraidError } from '../errors.js';
import { createApp, type AppOptions } from './app.js';

/** Options of `startServer`. @beta */
export interface ServeOptions extends AppOptions {
  /** @default 8787 (0 picks a free port) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
}

/** A started server: its URL, and `close`. @beta */
export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Serve `createApp` on a port (loopback unless a token is set). @beta */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.token) {
    throw new BraidError(
      'E_CONFIG',
      `listening on ${host} (beyond this machine) needs a bearer token: set BRAID_TOKEN`,
    );
  }
  const app = createApp(options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 8787, hostname: host }, (info: AddressInfo) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shown}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Event streams stay open until their run ends: close them with the server.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.on('error', reject);
  });
}
