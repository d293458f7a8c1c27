/**
 * `braid init [dir]`: a project that works on the first `npm install && npm test && npm start`: a tools module
 * with one zod tool, a workflow that uses it with a conditional branch, a project config (`braid.config.json`),
 * `.env.example`, and a test that runs the workflow offline with `braid/testing` (Node's own test runner, no other
 * dependency). The braid dependency is one that installs anywhere (see braid-dependency.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { BraidError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { braidDependency } from './braid-dependency.js';
import { EXIT } from './exit.js';

export interface InitFlags {
  /** The dependency spec for braid in package.json (a version, a tarball, a git URL). @default see braidDependency */
  braid?: string;
  force?: boolean;
}

/** The files of a new project, by path; `name` is its package name. */
const files = (name: string, braidSpec: string): Record<string, string> => ({
  'package.json': packageJson(name, braidSpec),
  'braid.config.json': `${JSON.stringify({ tools: ['./tools.mjs'], workflows: 'workflows' }, null, 2)}\n`,
  'tools.mjs': TOOLS,
  'workflows/word-count.yaml': WORKFLOW,
  '.env.example': ENV_EXAMPLE,
  '.gitignore': 'node_modules/\n.braid/\n.env\n',
  'test/word-count.test.mjs': TEST,
  'README.md': readme(name),
});

const packageJson = (name: string, braidSpec: string) =>
  `${JSON.stringify(
    {
      name,
      private: true,
      type: 'module',
      scripts: {
        start: 'braid run workflows/word-count.yaml --input text="braid runs tools as workflows"',
        validate: 'braid validate workflows/word-count.yaml',
        test: 'node --test',
      },
      dependencies: { braid: braidSpec, zod: '^4.0.0' },
    },
    null,
    2,
  )}\n`;

const TOOLS = `// Your tools: objects with a name, a zod input schema and run(input, ctx). braid validates every input
// before the call, and the same schema is what a model sees for function calling.
import { z } from 'zod';
import { defineTool } from 'braid';

export const wordCount = defineTool({
  name: 'word_count',
  description: 'Count the words of a text and label it short or long.',
  input: z.object({ text: z.string().min(1), limit: z.number().int().positive().default(8) }),
  run({ text, limit }) {
    const words = text.trim().split(/\\s+/).length;
    return { words, text, label: words > limit ? 'long' : 'short' };
  },
});
`;

const WORKFLOW = `# yaml-language-server: $schema=../node_modules/braid/schema/workflow.schema.json
# Count the words; a long text is summarized, a short one is kept as it is. Run it with:
#   npx braid run workflows/word-count.yaml --input text="..."   (braid.config.json loads tools.mjs)
name: word-count
description: Count the words of a text, then summarize it if it is long.
inputs:
  type: object
  properties:
    text: { type: string, description: the text to look at }
  required: [text]
output: { words: "{{ tasks.count.output.words }}", summary: "{{ tasks.shorten.output.summary }}" }
tasks:
  - id: count
    tool: word_count            # its output carries label: short | long
  - id: shorten                 # only for long texts
    tool: summarize_results
    condition: { depends_on: count, if_result: long }
  - id: keep                    # only for short ones
    tool: echo
    input: { value: "{{ tasks.count.output.text }}" }
    condition: { depends_on: count, if_result: short }
`;

const ENV_EXAMPLE = `# Copy to .env. Without a key braid runs offline with a deterministic, clearly labelled model.
OPENAI_API_KEY=
# BRAID_MODEL=gpt-4o-mini
# OPENAI_BASE_URL=http://localhost:11434/v1   # Ollama or any OpenAI-compatible endpoint
`;

const TEST = `// Runs the workflow offline, deterministically: no key, no network.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runForTest } from 'braid/testing';
import { wordCount } from '../tools.mjs';

test('a long text is summarized, a short one is kept', async () => {
  const long = await runForTest('workflows/word-count.yaml', { tools: [wordCount], input: { text: 'one two three four five six seven eight nine ten' } });
  assert.equal(long.result.status, 'succeeded');
  assert.deepEqual(long.started, ['count', 'shorten']);
  assert.equal(long.result.output.words, 10);

  const short = await runForTest('workflows/word-count.yaml', { tools: [wordCount], input: { text: 'hello there' } });
  assert.deepEqual(short.started, ['count', 'keep']);
  assert.equal(short.result.tasks.shorten.reason, 'condition_false');
});
`;

const readme = (name: string) => `# ${name}

A braid project: tools in \`tools.mjs\`, workflows in \`workflows/\`, both named in \`braid.config.json\`
(\`npx braid config\` shows every setting). braid itself comes from \`vendor/\` when \`braid init\` packed it there.

\`\`\`sh
npm install
npm test          # runs the workflow offline (test/word-count.test.mjs)
npm start         # braid run workflows/word-count.yaml --input text=...
npx braid show latest
\`\`\`

Set \`OPENAI_API_KEY\` (see \`.env.example\`) to use a real model.
`;

export async function initCommand(dir: string | undefined, flags: InitFlags): Promise<number> {
  const target = resolve(dir ?? '.');
  if (existsSync(target) && readdirSync(target).length > 0 && !flags.force) {
    throw new BraidError(
      'E_BAD_ARGUMENT',
      `${target} is not empty; pick a new folder (braid init my-project) or pass --force`,
    );
  }
  await mkdir(target, { recursive: true });
  const dependency = flags.braid
    ? { spec: flags.braid, note: `braid: "${flags.braid}" (--braid)` }
    : braidDependency(packageRoot(), target);
  const spec = dependency.spec;
  const name =
    basename(target)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-') || 'braid-project';
  for (const [file, text] of Object.entries(files(name, spec))) {
    const path = join(target, file);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
  }
  process.stdout.write(
    `created ${target}\n${dependency.note}\n\nnext:\n  cd ${dir ?? '.'}\n  npm install\n  npm test\n  npm start\n`,
  );
  return EXIT.ok;
}
