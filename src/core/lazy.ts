/**
 * Packages a command may never need, loaded on first use (`require`: synchronous, and without the ESM
 * loader's pass over a CommonJS file): `braid --version`, `braid run` of a workflow without expressions or
 * YAML, and `import('braid')` do not pay for them. Each is CommonJS (or ships a CommonJS build).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazy<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
