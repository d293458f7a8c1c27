/**
 * braid's built-in tools (`braid/tools`), registered by default by `runWorkflow`, the CLI and the service.
 * One file per tool; the heavy ones (`calculate`, `send_email`) load their dependencies on first use.
 */
import { registerDefaultTools } from '../src/toolkit/defaults.js';
import type { Tool } from '../src/toolkit/types.js';
import { calculate } from './calculate.js';
import { draftEmail } from './draft-email.js';
import { echo } from './echo.js';
import { httpRequest } from './http-request.js';
import { llmGenerateIdea } from './llm-generate-idea.js';
import { plan } from './plan.js';
import { retryGenerateIdea } from './retry-generate-idea.js';
import { sendEmail } from './send-email.js';
import { sleep } from './sleep.js';
import { summarizeResults } from './summarize-results.js';
import { webSearch } from './web-search.js';
import { readFileTool, writeFileTool } from './workspace.js';

export {
  calculate,
  draftEmail,
  echo,
  httpRequest,
  llmGenerateIdea,
  plan,
  readFileTool,
  retryGenerateIdea,
  sendEmail,
  sleep,
  summarizeResults,
  webSearch,
  writeFileTool,
};

/** The built-in tools, in the order `braid tools` lists them. @public */
export const builtinToolList: readonly Tool[] = [
  llmGenerateIdea,
  retryGenerateIdea,
  draftEmail,
  sendEmail,
  webSearch,
  calculate,
  summarizeResults,
  httpRequest,
  readFileTool,
  writeFileTool,
  echo,
  sleep,
  plan,
];

/** The tools every registry starts with (a fresh array each call). @public */
export function builtinTools(): Tool[] {
  return [...builtinToolList];
}

// Loading this module makes the built-ins the tools every run starts with (see src/toolkit/defaults.ts).
registerDefaultTools(builtinTools);
