/**
 * The dashboard's files: `GET /` is the page, `GET /ui/<file>` its scripts and styles (the `dashboard/`
 * folder of the package) and `GET /ui/vendor/<file>` the two libraries it loads (Preact with htm, dagre),
 * served from their npm packages: no CDN. `GET /ui/fold.js` is the event fold, bundled from the TypeScript source
 * by `npm run build`. Only files known when the app is made are served.
 *
 * These routes need no token: the page holds no data, and asks for the token the API then requires.
 * Everything the page shows comes from the public API routes, with the same token and error shapes.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, relative, sep } from 'node:path';
import type { Hono } from 'hono';
import { BraidError } from '../../errors.js';
import { packagePath } from '../../paths.js';
import { resolveOptional } from '../../core/optional.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Scripts, styles and fetches only from this server; no inline script, no framing. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** `/ui/...` path → file on disk. */
export function dashboardFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const root = packagePath('dashboard');
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, d.name);
      if (d.isDirectory()) walk(full);
      else if (TYPES[extname(d.name)]) files.set(`/ui/${relative(root, full).split(sep).join('/')}`, full);
    }
  };
  walk(root);
  const htm = dirname(dirname(resolveOptional('serve', 'htm'))); // its exports map hides the standalone build
  files.set('/ui/vendor/preact-htm.js', join(htm, 'preact', 'standalone.module.js'));
  // the event fold the page shares with the store and the CLI, bundled from src/core/run-view.ts by `npm run build`
  files.set('/ui/fold.js', packagePath('dist', 'dashboard', 'fold.js'));
  files.set(
    '/ui/vendor/dagre.js',
    join(dirname(resolveOptional('serve', '@dagrejs/dagre/package.json')), 'dist', 'dagre.esm.js'),
  );
  return files;
}

export function registerDashboard(app: Hono): void {
  const files = dashboardFiles();
  const send = async (path: string, file: string) =>
    new Response(await readFile(file), {
      headers: {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        ...(path.endsWith('.html') ? { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' } : {}),
      },
    });
  app.get('/', () => send('/ui/index.html', files.get('/ui/index.html')!));
  app.get('/ui/*', async (c) => {
    const file = files.get(c.req.path);
    if (!file) throw new BraidError('E_NOT_FOUND', `no dashboard file ${c.req.path}`);
    return send(c.req.path, file);
  });
}
