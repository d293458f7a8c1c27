/** The tools every registry starts with, from the top-level `tools/` folder. */
import { builtinToolList } from '../../tools/index.js';
import type { Tool } from './types.js';

export function builtinTools(): Tool[] {
  return [...builtinToolList];
}
