/**
 * The JSON Schema of the workflow format: generated from the loader's zod schemas, shipped, and true to the examples.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@cfworker/json-schema';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinTools, defineTool, ToolRegistry } from '../src/index.js';
import { workflowFormatSchema } from '../src/spec/format-schema.js';
import { braid, ROOT } from './support/cli.js';

const shipped = JSON.parse(readFileSync(join(ROOT, 'schema/workflow.schema.json'), 'utf8'));
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => /\.(ya?ml|json)$/.test(f));

describe('braid schema', () => {
  it('the shipped schema is what `braid schema` prints (regenerate: braid schema > schema/workflow.schema.json)', async () => {
    const r = await braid(['schema']);
    expect(JSON.parse(r.stdout)).toEqual(shipped);
  });

  it('every example file validates against it, and each starts with the yaml-language-server line', () => {
    const v = new Validator(shipped, '7');
    // dynamic.yaml gives web_search max_results: 80 on purpose (its on_failure adjusts it): an editor rightly flags it
    for (const f of examples.filter((x) => x !== 'dynamic.yaml')) {
      const text = readFileSync(join(ROOT, 'examples', f), 'utf8');
      const value = f.endsWith('.json') ? JSON.parse(text) : parse(text);
      const result = v.validate(value);
      expect(result.errors.slice(0, 2), f).toEqual([]);
      if (!f.endsWith('.json'))
        expect(text.split('\n')[0], f).toBe('# yaml-language-server: $schema=../schema/workflow.schema.json');
    }
  });

  it('catches what an editor should flag: an unknown task field, a bad trigger rule', () => {
    const v = new Validator(shipped, '7');
    expect(v.validate({ tasks: [{ id: 'a', tool: 'echo', retrys: 1 }] }).valid).toBe(false);
    expect(v.validate({ tasks: [{ id: 'a', tool: 'echo', trigger_rule: 'sometimes' }] }).valid).toBe(false);
    expect(v.validate([{ id: 'a', tool: 'echo', condition: { depends_on: 'b', if_result: 'good' } }]).valid).toBe(true);
  });

  it('with tools: `tool` is one of them and each input is checked against its tool (templates allowed)', () => {
    const shout = defineTool({
      name: 'shout',
      input: z.object({ text: z.string(), times: z.number().int().optional() }),
      run: ({ text }) => text,
    });
    const schema = workflowFormatSchema(new ToolRegistry([...builtinTools(), shout]), { onlyTheseTools: true });
    const v = new Validator(schema as object, '7');
    expect(v.validate([{ id: 'a', tool: 'shout', input: { text: 'hi', times: 2 } }]).valid).toBe(true);
    expect(
      v.validate([{ id: 'a', tool: 'shout', input: { text: '{{ input.t }}', times: '{{ input.n }}' } }]).valid,
    ).toBe(true);
    expect(v.validate([{ id: 'a', tool: 'shout', input: { text: 'hi', times: 'twice' } }]).valid).toBe(false);
    expect(v.validate([{ id: 'a', tool: 'nope' }]).valid).toBe(false);
  });
});
