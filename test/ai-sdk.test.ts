/** The Vercel AI SDK both ways, with the real `ai` package: its tools run in braid, braid workflows are its tools. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runWorkflow, WorkflowCatalog } from '../src/index.js';
import { asAiSdkTools, fromAiSdkTools } from '../src/ai-sdk/index.js';
import { braid, ROOT } from './support/cli.js';

const dir = mkdtempSync(join(ROOT, 'test', '.tmp-ai-sdk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const usage = {
  inputTokens: { total: 5, noCache: 5, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

describe('AI SDK tools run as braid tools', () => {
  it('a tool() with a zod schema and one with jsonSchema() run as tasks: inputs validated, abort signal passed', async () => {
    let signal: AbortSignal | undefined;
    const multiply = tool({
      description: 'Multiply',
      inputSchema: z.object({ a: z.number(), b: z.number() }),
      execute: async ({ a, b }, opts) => ((signal = opts.abortSignal), a * b),
    });
    const shout = tool({
      description: 'Shout',
      inputSchema: jsonSchema<{ text: string }>({
        type: 'object',
        properties: { text: { type: 'string' } },
        required: ['text'],
      }),
      execute: async ({ text }) => text.toUpperCase(),
    });
    const r = await runWorkflow(
      [
        { id: 'm', tool: 'multiply', input: { a: 6, b: 7 } },
        { id: 's', tool: 'shout', input: { text: 'hi' } },
        { id: 'bad', tool: 'shout', input: { text: '{{ input.n }}' } },
      ],
      { tools: fromAiSdkTools({ multiply, shout }), input: { n: 5 }, store: false },
    );
    expect(r.tasks.m.output).toBe(42);
    expect(r.tasks.s.output).toBe('HI');
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(r.tasks.bad.error).toMatchObject({ code: 'E_TOOL_INPUT' });
    expect(r.tasks.bad.error?.message).toMatch(/input\.text/);
  });

  it('a --tools module exporting tool() objects registers them under their export names', async () => {
    const mod = join(dir, 'ai-tools.mjs');
    writeFileSync(
      mod,
      `import { tool } from 'ai';\nimport { z } from 'zod';\nexport const add = tool({ description: 'Add', inputSchema: z.object({ a: z.number(), b: z.number() }), execute: async ({ a, b }) => a + b });\n`,
    );
    const flow = join(dir, 'flow.yaml');
    writeFileSync(flow, 'tasks:\n  - id: sum\n    tool: add\n    input: { a: 2, b: 3 }\n');
    const r = await braid(['run', flow, '--tools', mod, '--json', '--no-store']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tasks.sum.output).toBe(5);
  });
});

describe('braid workflows as AI SDK tools', () => {
  it('generateText with a model that calls the workflow runs it and gets its output back', async () => {
    const catalog = await WorkflowCatalog.load(['examples/seed-parallel.json']);
    const tools = asAiSdkTools(catalog, { store: false });
    expect(Object.keys(tools)).toEqual(['seed-parallel']);
    let step = 0;
    const model = new MockLanguageModelV3({
      doGenerate: async () =>
        step++ === 0
          ? {
              content: [
                {
                  type: 'tool-call',
                  toolCallId: 'c1',
                  toolName: 'seed-parallel',
                  input: JSON.stringify({ query: 'solar power', expression: '6 * 7' }),
                },
              ],
              finishReason: { unified: 'tool-calls', raw: undefined },
              usage,
              warnings: [],
            }
          : {
              content: [{ type: 'text', text: 'done' }],
              finishReason: { unified: 'stop', raw: undefined },
              usage,
              warnings: [],
            },
    });
    const result = await generateText({
      model,
      tools,
      prompt: 'search solar power and compute 6*7',
      stopWhen: stepCountIs(3),
    });
    const toolResult = result.steps[0].toolResults[0] as {
      output: { status: string; output: { task_3: { sources: number } } };
    };
    expect(toolResult.output.status).toBe('succeeded');
    expect(toolResult.output.output.task_3.sources).toBe(2);
    expect(result.text).toBe('done');
  });
});
