/** Files shipped beside the code (prompts/, src/llm/prices.json), found from source or from dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The braid package folder: the nearest folder above this module with a package.json named braid. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'prompts'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('braid: cannot find the package folder (prompts/ missing)');
    dir = up;
  }
  root = dir;
  return dir;
}

export const packagePath = (...parts: string[]) => join(packageRoot(), ...parts);
