/** The README shows the conditional example as it is in the repository. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

it("the README's conditional snippet is examples/conditional.yaml, verbatim", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain(`\`\`\`yaml\n${readFileSync(join(ROOT, 'examples/conditional.yaml'), 'utf8')}\`\`\``);
});
