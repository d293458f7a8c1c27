/** `on_failure` adjust: a template patch over the failed input, then (llm: true) the model's repair. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BraidError } from '../errors.js';
import { ScriptedModel } from '../testing/index.js';
import type { Tool } from '../toolkit/types.js';
import type { PlanPolicyStep } from './plan.js';
import { adjustInput } from './recovery.js';

type Adjust = Extract<PlanPolicyStep, { kind: 'adjust' }>;

const tool = {
  name: 'search',
  description: 'finds things',
  input: z.object({ query: z.string(), limit: z.number() }),
} as unknown as Tool;
const ctx = { input: { topic: 'kites' }, tasks: {} };
const signal = new AbortController().signal;
const error = new BraidError('E_TOOL', 'limit too high');
/** A patch that reads the error and the run input, as a compiled template would. */
const patch = (c: { error?: unknown; input: unknown }) => ({
  limit: 5,
  why: (c.error as { message: string }).message,
  topic: (c.input as { topic: string }).topic,
});
const step = (p: Partial<Adjust>): Adjust => ({ kind: 'adjust', llm: false, ...p }) as Adjust;

describe('adjustInput', () => {
  it('the patch is merged over an object input (the patch wins) and sees the error and the run input', async () => {
    const out = await adjustInput(step({ patch }), tool, { query: 'q', limit: 99 }, error, ctx, undefined, signal);
    expect(out).toEqual({ query: 'q', limit: 5, why: 'limit too high', topic: 'kites' });
  });

  it('over an input that is not an object (a list, a string, null), the patch is the whole input', async () => {
    const whole = { limit: 5, why: 'limit too high', topic: 'kites' };
    for (const failed of [['a'], 'text', null, undefined, 3])
      expect(await adjustInput(step({ patch }), tool, failed, error, ctx, undefined, signal)).toEqual(whole);
  });

  it('without a patch and without llm, the input is unchanged', async () => {
    const failed = { query: 'q', limit: 99 };
    expect(await adjustInput(step({}), tool, failed, error, ctx, undefined, signal)).toBe(failed);
  });

  it('llm: true without a model fails, saying what is missing', async () => {
    await expect(adjustInput(step({ llm: true }), tool, {}, error, ctx, undefined, signal)).rejects.toThrow(
      'adjust with llm: true needs a model (RunOptions.llm)',
    );
  });

  it('llm: true: the model sees tool, description, schema, the patched input, the coded error and the instructions', async () => {
    const model = new ScriptedModel({ adjust: [{ object: { query: 'fixed', limit: 1 } }] });
    const out = await adjustInput(
      step({ llm: true, patch, prompt: 'keep it small' }),
      tool,
      { query: 'q', limit: 99 },
      error,
      ctx,
      model,
      signal,
    );
    expect(out).toEqual({ query: 'fixed', limit: 1 });
    const [call] = model.callsFor('adjust');
    expect(call.signal).toBe(signal);
    expect(call.schema?.schema).toBe(tool.input);
    const user = call.messages.map((m) => m.content).join('\n');
    expect(user).toContain('Tool: search: finds things');
    expect(user).toContain('Input that failed:\n{\n  "query": "q",\n  "limit": 5,\n  "why": "limit too high",');
    expect(user).toContain('Error:\nE_TOOL: limit too high');
    expect(user).toContain('keep it small');
    expect(user).toContain('"required":["query","limit"]');
  });

  it('an error without a code, a tool without description, a step without instructions: nothing made up', async () => {
    const model = new ScriptedModel({ adjust: [{ object: { query: 'fixed', limit: 1 } }] });
    const bare = { ...tool, description: undefined } as unknown as Tool;
    await adjustInput(step({ llm: true }), bare, { query: 'q' }, new Error('plain'), ctx, model, signal);
    const user = model.calls[0].messages.map((m) => m.content).join('\n');
    expect(user).toContain('Tool: search: \n');
    expect(user).toContain('Error:\nplain');
    expect(user).not.toContain('Stryker');
    expect(user.trimEnd().endsWith('plain')).toBe(true);
  });
});
