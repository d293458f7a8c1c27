/** The README and docs/ show the examples as they are in the repository, and every link in them leads somewhere. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

it("docs/workflow-format.md's conditional snippet is examples/conditional.yaml, verbatim", () => {
  expect(read('docs/workflow-format.md')).toContain(`\`\`\`yaml\n${read('examples/conditional.yaml')}\`\`\``);
});

it("the README's workflow is examples/seed-conditional.json, verbatim", () => {
  expect(read('README.md')).toContain(`\`\`\`json\n${read('examples/seed-conditional.json')}\`\`\``);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');

const anchors = (file: string) =>
  new Set(
    read(file)
      .replace(/^```[\s\S]*?^```/gm, '')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ''))),
  );

it('every relative link in the README and docs/ names a file that exists, and a heading it has', () => {
  const docs = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const broken: string[] = [];
  for (const doc of docs) {
    const text = read(doc).replace(/^```[\s\S]*?^```/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? join(dirname(doc), path) : doc;
      if (!existsSync(join(ROOT, file))) broken.push(`${doc}: ${target} (no ${file})`);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(file).has(anchor))
        broken.push(`${doc}: ${target} (no heading #${anchor} in ${file})`);
    }
  }
  expect(broken).toEqual([]);
});
