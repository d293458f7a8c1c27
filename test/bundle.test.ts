/**
 * The bundle (`scripts/bundle.mjs`, dist/bundle/) is what the package's entry points and the CLI load: every
 * entry point in package.json has one, exporting exactly what its compiled module exports, and a tool module
 * that imports `braid` shares the CLI's module instances (one braid in the process, not two).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT } from './support/cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  bin: { braid: string };
  exports: Record<string, { types: string; default: string }>;
};

describe('the bundle', () => {
  it('every package entry point loads the bundle and exports what its compiled module exports', async () => {
    expect(pkg.main).toBe(pkg.exports['.'].default.slice(2));
    for (const [subpath, { types, default: file }] of Object.entries(pkg.exports)) {
      expect(file, subpath).toMatch(/^\.\/dist\/bundle\/[\w-]+\.js$/);
      const compiled = types.replace(/\.d\.ts$/, '.js');
      const [bundled, own] = await Promise.all([
        import(pathToFileURL(join(ROOT, file)).href),
        import(pathToFileURL(join(ROOT, compiled)).href),
      ]);
      expect(Object.keys(bundled).sort(), subpath).toEqual(Object.keys(own).sort());
    }
  }, 60_000);

  it("zod is not inlined: the bundle imports the installed zod, the one the user's schemas are made with", () => {
    const files = readdirSync(join(ROOT, 'dist', 'bundle')).filter((f) => f.endsWith('.js'));
    const code = files.map((f) => readFileSync(join(ROOT, 'dist', 'bundle', f), 'utf8'));
    expect(code.some((c) => /from "zod"/.test(c))).toBe(true);
    expect(code.filter((c) => c.includes('$constructor("$ZodType"'))).toEqual([]);
  });

  it("a schema made with the user's zod: braid validates and describes it as the user's zod does", async () => {
    const braid = await import(pathToFileURL(join(ROOT, pkg.exports['.'].default)).href);
    const input = z.object({
      city: z.string().describe('where'),
      days: z.number().int().min(1).optional(),
      unit: z.enum(['c', 'f']).default('c'),
    });
    const tool = braid.defineTool({ name: 'weather', input, run: () => ({}) });
    const { $schema: _, ...expected } = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' });
    expect(braid.toJSONSchema(tool)).toEqual(expected);
    // descriptions live in zod's registry, one per process (on globalThis) whichever copy of zod asks
    expect(braid.toJSONSchema(tool)).toMatchObject({ properties: { city: { description: 'where' } } });
    await expect(
      braid.runWorkflow([{ id: 'w', tool: 'weather', input: { city: 'Oslo', days: 0 } }], {
        tools: [tool],
        store: false,
      }),
    ).rejects.toThrow(/tasks\[0\]\.input\.days: weather: Too small: expected number to be >=1/);
  });

  it("a --tools module importing 'braid' gets the CLI's own modules: nothing of braid loads twice", () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-bundle-'));
    // inside the package, so `braid` resolves through package.json exports, as for an installed package
    const tools = join(ROOT, 'test', `.tmp-bundle-tools-${process.pid}.mjs`);
    writeFileSync(
      tools,
      `import { defineTool, NonRetriableError } from 'braid';
       import { z } from 'zod';
       export const shout = defineTool({ name: 'shout', input: z.object({ s: z.string() }), run: ({ s }) => s.toUpperCase() });
       export const refuse = defineTool({ name: 'refuse', run: () => { throw new NonRetriableError('no'); } });`,
    );
    const flow = join(dir, 'flow.json');
    writeFileSync(
      flow,
      JSON.stringify({
        tasks: [
          { id: 'a', tool: 'shout', input: { s: 'hi' } },
          { id: 'b', tool: 'refuse', retries: 2, continue_on_error: true },
        ],
      }),
    );
    const log = join(dir, 'loads.txt');
    try {
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          './test/support/record-loads.mjs',
          pkg.bin.braid,
          'run',
          flow,
          '--json',
          '--no-store',
          '--tools',
          tools,
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BRAID_LOAD_LOG: log }, stdio: 'pipe' },
      );
      const result = JSON.parse(out);
      expect(result.tasks.a.output).toBe('HI');
      expect(result.tasks.b.history).toHaveLength(1); // a NonRetriableError from the tool's `braid`: not retried
      const own = readFileSync(log, 'utf8')
        .split('\n')
        .filter((u) => u.startsWith(pathToFileURL(join(ROOT, 'dist')).href));
      expect(own.some((u) => u.endsWith('/dist/bundle/index.js'))).toBe(true); // the tool's import of braid
      expect(own.filter((u) => !u.includes('/dist/bundle/'))).toEqual([]);
    } finally {
      rmSync(tools, { force: true });
    }
  }, 30_000);
});
