/** braid's built-in tools, registered by default. */
import type { Tool } from '../src/tools/types.js';
import { echo } from './echo.js';
import { sleep } from './sleep.js';

export { echo, sleep };

export const builtinToolList: readonly Tool[] = [echo, sleep];
