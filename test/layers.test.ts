/**
 * Imports flow one way: every folder of src/ (and the top-level agents/ and tools/) sits in a layer and
 * imports only from layers below it, so no two folders import each other. Adding a folder means placing it
 * here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Lowest first. A module may import its own folder and any folder of a lower layer. */
const LAYERS: readonly (readonly string[])[] = [
  ['core'], // results, statuses, the event union, usage, schemas, backoff, clock; errors.ts and paths.ts
  ['events'], // the bus and buffered listeners
  ['llm'], // the provider contract, providers, classifier, prompts, cost
  ['toolkit'], // defineTool, registry, JSON Schema, module loading, MCP sources (the tool machinery)
  ['spec'], // the file format: schema, parse, validate, analyze, templates, expressions
  ['store', 'graph', 'builder', 'executors'], // run records (read workflows), Mermaid, the workflow builder; where attempts run
  ['planner'], // task generation over the registered tools
  ['engine'], // step, decide, scheduler (driver), plan (compile), run/resume: knows no tool
  ['builtins'], // the top-level tools/ folder: the built-in tools, registered as the default tools
  ['service', 'monitor'], // catalog and run manager; pino and OpenTelemetry listeners
  ['testing', 'langchain', 'ai-sdk', 'agents'], // adapters and the chat agent
  ['server'], // the HTTP API
  ['cli'],
  ['index'], // src/index.ts, the public API (and src/redis.ts, braid/redis)
];

/** The layer name of a repository file. */
function folderOf(file: string): string {
  const parts = relative(ROOT, file).split('/');
  if (parts[0] === 'tools') return 'builtins';
  if (parts[0] === 'agents') return 'agents';
  if (parts.length === 2)
    return (
      { 'errors.ts': 'core', 'paths.ts': 'core', 'index.ts': 'index', 'redis.ts': 'index', 'builder.ts': 'builder' }[
        parts[1]
      ] ?? `src/${parts[1]}`
    );
  return parts[1];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name) && !/\.test\.ts$|\.d\.ts$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Folder-to-folder import edges, each with one example `file -> import`. */
function folderEdges(): Map<string, string> {
  const edges = new Map<string, string>();
  const importRe =
    /^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;
  for (const file of [
    ...sources(join(ROOT, 'src')),
    ...sources(join(ROOT, 'agents')),
    ...sources(join(ROOT, 'tools')),
  ]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const target = resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts'));
      if (!existsSync(target)) continue; // text inside a template (braid init's scaffold), not an import
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from !== to && !edges.has(`${from} -> ${to}`))
        edges.set(`${from} -> ${to}`, `${relative(ROOT, file)} imports ${m[1] ?? m[2]}`);
    }
  }
  return edges;
}

/** The edges that do not go strictly downward (or name a folder without a layer). */
function violations(edges: Map<string, string>, layers: readonly (readonly string[])[]): string[] {
  const rank = new Map(layers.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const out: string[] = [];
  for (const [edge, example] of edges) {
    const [from, to] = edge.split(' -> ');
    const [a, b] = [rank.get(from), rank.get(to)];
    if (a === undefined || b === undefined)
      out.push(`${edge}: place ${a === undefined ? from : to} in LAYERS (${example})`);
    else if (b >= a) out.push(`${edge} goes up or sideways (${example})`);
  }
  return out;
}

describe('imports flow one way', () => {
  it('every folder imports only from the layers below it', () => {
    const edges = folderEdges();
    expect(edges.size).toBeGreaterThan(20);
    expect(edges.has('engine -> core')).toBe(true);
    expect(violations(edges, LAYERS)).toEqual([]);
  });

  it('no two folders import each other', () => {
    const edges = folderEdges();
    const pairs = [...edges.keys()].filter((e) => edges.has(e.split(' -> ').reverse().join(' -> ')));
    expect(pairs).toEqual([]);
  });

  it('the check catches an import that goes up, sideways or to an unplaced folder', () => {
    const edges = new Map([
      ['core -> engine', 'x'],
      ['store -> graph', 'y'],
      ['engine -> nowhere', 'z'],
      ['engine -> core', 'ok'],
    ]);
    expect(violations(edges, LAYERS)).toEqual([
      'core -> engine goes up or sideways (x)',
      'store -> graph goes up or sideways (y)',
      'engine -> nowhere: place nowhere in LAYERS (z)',
    ]);
  });

  it('the engine knows no tool and does not import the HTTP server, the CLI or the service', () => {
    const up = [...folderEdges().keys()].filter((e) =>
      /^engine -> (server|cli|service|agents|monitor|builtins)$/.test(e),
    );
    expect(up).toEqual([]);
  });
});
