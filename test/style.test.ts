/**
 * House style beyond Prettier: lines of code and comments fit in 120 columns. As ESLint's `max-len` with
 * `ignoreStrings`, `ignoreTemplateLiterals` and `ignoreRegExpLiterals`: a line may run longer only for a
 * string, template or regular expression literal Prettier cannot break (a message, a pattern).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const files = execFileSync('git', ['ls-files', 'src/*.ts', 'tools/*.ts', 'agents/*.ts', 'test/*.ts'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .trim()
  .split('\n');

/** A line that is long because of a literal: it holds a quote, a backtick or a regular expression. */
const literal = (line: string) => /['"`]|\/[^/\s].*\/[dgimsuy]*[,;)]?\s*$/.test(line);

describe('house style', () => {
  it('no line of code or comment passes 120 columns (literals aside)', () => {
    const long: string[] = [];
    for (const file of files) {
      const lines = readFileSync(resolve(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const comment = /^\s*(\/\/|\/\*|\*)/.test(line);
        if (line.length > 120 && (comment || !literal(line))) long.push(`${file}:${i + 1} (${line.length})`);
      });
    }
    expect(long).toEqual([]);
  });
});
