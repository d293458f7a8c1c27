/** LangChain interop in both directions, with real LangChain objects. */
import { tool } from '@langchain/core/tools';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinTools, runWorkflow, toJSONSchema } from '../src/index.js';
import {
  fromLangChainTool,
  langChainProvider,
  toLangChainTool,
  workflowAsLangChainTool,
} from '../src/langchain/index.js';
import { startLoopbackServer, type LoopbackServer } from './support/openai-server.js';

describe('LangChain interop', () => {
  it('a LangChain tool() runs inside a braid workflow, its schema preserved', async () => {
    const multiply = tool(({ a, b }: { a: number; b: number }) => String(a * b), {
      name: 'multiply',
      description: 'Multiply two numbers',
      schema: z.object({ a: z.number(), b: z.number() }),
    });
    const braidTool = fromLangChainTool(multiply);
    expect(toJSONSchema(braidTool)).toMatchObject({
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    });
    const r = await runWorkflow(
      [
        { id: 'm', tool: 'multiply', input: { a: 6, b: 7 } },
        { id: 'bad', tool: 'multiply', input: { a: '{{ input.a }}', b: 1 } },
      ],
      { tools: [braidTool], input: { a: 'x' } },
    );
    expect(r.tasks.m.output).toBe('42');
    expect(r.tasks.bad.error?.code).toBe('E_TOOL_INPUT');
  });

  it('a braid tool becomes a LangChain tool', async () => {
    const calc = toLangChainTool(builtinTools().find((t) => t.name === 'calculate')!);
    expect(calc.name).toBe('calculate');
    expect(JSON.parse(await calc.invoke({ expression: '2 * 21' }))).toMatchObject({ result: 42 });
  });

  it('a braid workflow runs as a LangChain tool', async () => {
    const wf = await workflowAsLangChainTool('examples/parallel.yaml');
    expect(wf.name).toBe('parallel');
    const out = JSON.parse(await wf.invoke({ query: 'wind power', expression: '2 + 2' }));
    expect(out.status).toBe('succeeded');
    expect(out.tasks.calculate.output.result).toBe(4);
  });

  it('a LangChain chat model serves as the provider of the classifier', async () => {
    const model = new FakeListChatModel({ responses: ['{"label": "bad", "reason": "too vague", "confidence": 0.9}'] });
    const r = await runWorkflow(
      [{ id: 'idea', tool: 'echo', input: { value: 'an idea' }, classify: { labels: ['good', 'bad'] } }],
      { llm: langChainProvider(model) },
    );
    expect(r.tasks.idea).toMatchObject({ label: 'bad', labelSource: 'classifier', labelReason: 'too vague' });
  });

  describe('through @langchain/openai against the loopback server', () => {
    let server: LoopbackServer;
    beforeAll(async () => (server = await startLoopbackServer()));
    afterAll(() => server.close());

    it('ChatOpenAI as a braid provider reports usage', async () => {
      const model = new ChatOpenAI({ model: 'loopback-model', apiKey: 'k', configuration: { baseURL: server.url } });
      const provider = langChainProvider(model, { modelName: 'loopback-model' });
      const r = await provider.generate({ messages: [{ role: 'user', content: 'hello' }] });
      expect(r.text).toBe('loopback reply to: hello');
      expect(r.usage.totalTokens).toBeGreaterThan(0);
      expect(server.requests.at(-1)?.body.messages.at(-1)?.content).toBe('hello');
    });
  });
});
