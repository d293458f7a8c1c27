import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as z3 from 'zod/v3';
import {
  defineTool,
  loadToolsModule,
  runWorkflow,
  toFunctionDefinition,
  toJSONSchema,
  ToolRegistry,
  ToolsModuleError,
} from '../src/index.js';

describe('tools', () => {
  it('defineTool returns its argument; toJSONSchema uses zod 4 natively', () => {
    const def = {
      name: 'search',
      description: 'web search',
      input: z.object({ query: z.string().describe('what to look for'), max_results: z.number().int().default(5) }),
      run: () => [],
    };
    const tool = defineTool(def);
    expect(tool).toBe(def);
    const schema = toJSONSchema(tool);
    expect(schema).toMatchObject({
      type: 'object',
      properties: {
        query: { type: 'string', description: 'what to look for' },
        max_results: { type: 'integer', default: 5 },
      },
      required: ['query'],
    });
    expect(toFunctionDefinition(tool)).toMatchObject({ name: 'search', description: 'web search' });
  });

  it('a tool written with zod/v3 gets a real (non-empty) schema through zod-to-json-schema', () => {
    const tool = defineTool({
      name: 'old',
      input: z3.object({ city: z3.string(), days: z3.number().optional() }),
      run: () => 1,
    });
    const schema = toJSONSchema(tool) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(['city', 'days']);
    expect(schema.required).toEqual(['city']);
  });

  it('validates input with a zod/v3 schema too, naming the field', async () => {
    const tool = defineTool({ name: 'old', input: z3.object({ city: z3.string() }), run: ({ city }) => city });
    const r = await runWorkflow([{ id: 'a', tool: 'old', input: { city: '{{ input.city }}' } }], {
      tools: [tool],
      input: { city: 7 },
    });
    expect(r.tasks.a.error?.message).toMatch(/invalid input for tool "old": input\.city:/);
  });

  it('the registry lists built-ins and lets user tools shadow them', async () => {
    const tools = await loadToolsModule('test/fixtures/tools.mjs');
    expect(tools.map((t) => t.name)).toEqual(['shout', 'echo']);
    const reg = new ToolRegistry(tools);
    expect(() => reg.get('nope')).toThrow(/unknown tool "nope"; available: shout, echo/);
    const r = await runWorkflow([{ id: 'a', tool: 'echo', input: { value: 1 } }], { tools });
    expect(r.tasks.a.output).toEqual({ shadowed: 1 });
  });

  it('a module without tools is a clear error', async () => {
    await expect(loadToolsModule('test/fixtures/broken.yaml')).rejects.toBeInstanceOf(ToolsModuleError);
    await expect(loadToolsModule('test/fixtures/missing.mjs')).rejects.toThrow(/file not found/);
  });
});
