/**
 * What braid sends a model for a schema (`modelSchema`): strict-valid when it can be, judged by the loopback
 * server's rules (written from the API docs, independent of braid's code) and by the `openai` SDK's own strict
 * transform; plain with `strict: false` when it cannot; answers mapped back before zod validates them.
 */
import fc from 'fast-check';
import { toStrictJsonSchema } from 'openai/lib/transform';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as z3 from 'zod/v3';
import { builtinTools } from '../src/index.js';
import { classificationSchema } from '../src/llm/classifier.js';
import { modelSchema } from '../src/llm/model-schema.js';
import { schemaToJsonSchema } from '../src/toolkit/json-schema.js';
import { ideaSchema } from '../tools/llm-generate-idea.js';
import { strictSchemaProblem } from './support/openai-rules.js';

/** A strict schema must pass the API's rules and come out of the SDK's strict transform unchanged. */
function expectStrictValid(schema: Record<string, unknown>) {
  expect(strictSchemaProblem(schema)).toBeUndefined();
  expect(toStrictJsonSchema(structuredClone(schema) as never)).toEqual(schema);
}

describe('modelSchema: strict when it can be', () => {
  const tool = z.object({
    query: z.string().min(1).describe('what to search'),
    max_results: z.number().int().min(1).max(50).default(5),
    lang: z.string().optional(),
    note: z.string().nullable().default(null),
    kind: z.enum(['web', 'news']).default('web'),
    site: z.url().optional(),
  });

  it('every field required, optional ones nullable with their default named, every object closed', () => {
    const m = modelSchema(tool);
    expect(m.strict).toBe(true);
    expectStrictValid(m.schema);
    const p = m.schema.properties as Record<string, Record<string, unknown>>;
    expect(m.schema.required).toEqual(['query', 'max_results', 'lang', 'note', 'kind', 'site']);
    expect(p.query).toEqual({ type: 'string', description: 'what to search' }); // minLength dropped
    expect(p.max_results).toMatchObject({
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 50,
      description: '(default: 5)',
    });
    expect(p.lang).toEqual({ type: ['string', 'null'] });
    expect(p.kind).toEqual({
      anyOf: [{ type: 'string', enum: ['web', 'news'] }, { type: 'null' }],
      description: '(default: "web")',
    });
    expect(p.site).toEqual({ type: ['string', 'null'] }); // format "uri" is not a strict-mode format
  });

  it('maps null in an optional field back to absent, so zod applies the default; null stays where the field allows it', () => {
    const m = modelSchema(tool);
    const answer = { query: 'kites', max_results: null, lang: null, note: null, kind: null, site: null };
    expect(tool.parse(m.fromModel(answer))).toEqual({ query: 'kites', max_results: 5, note: null, kind: 'web' });
    expect(tool.safeParse(answer).success).toBe(false); // what zod would have said without the mapping
  });

  it('nested objects, arrays of objects, unions and recursive references are strict and mapped back at every level', () => {
    const Node: z.ZodType<{ name: string; children?: unknown[] }> = z.object({
      name: z.string(),
      get children() {
        return z.array(Node).optional();
      },
    });
    const schema = z.object({
      tree: Node,
      rows: z.array(z.object({ a: z.string(), b: z.number().optional() })),
      pick: z.discriminatedUnion('k', [
        z.object({ k: z.literal('x'), x: z.string().optional() }),
        z.object({ k: z.literal('y'), y: z.number() }),
      ]),
    });
    const m = modelSchema(schema);
    expect(m.strict).toBe(true);
    expectStrictValid(m.schema);
    const answer = {
      tree: { name: 'root', children: [{ name: 'leaf', children: null }] },
      rows: [{ a: 'r', b: null }],
      pick: { k: 'x', x: null },
    };
    expect(schema.parse(m.fromModel(answer))).toEqual({
      tree: { name: 'root', children: [{ name: 'leaf' }] },
      rows: [{ a: 'r' }],
      pick: { k: 'x' },
    });
  });

  it('$defs from a zod registry and definitions from JSON Schema are sent as $defs with bare $refs', () => {
    const Address = z.object({ city: z.string(), zip: z.string().optional() }).meta({ id: 'Address' });
    const reg = z.registry<{ id: string }>();
    reg.add(Address, { id: 'Address' });
    const json = z.toJSONSchema(z.object({ home: Address, work: Address.optional() }), {
      metadata: reg,
      io: 'input',
    }) as Record<string, unknown>;
    const m = modelSchema(json);
    expect(m.strict).toBe(true);
    expectStrictValid(m.schema);
    expect(m.schema.$defs).toHaveProperty('Address');
    expect(m.fromModel({ home: { city: 'Oslo', zip: null }, work: null })).toEqual({ home: { city: 'Oslo' } });
    const draft7 = modelSchema({
      type: 'object',
      properties: { a: { $ref: '#/definitions/A' } },
      required: ['a'],
      definitions: { A: { type: 'object', properties: { n: { type: 'number' } } } },
    });
    expect(draft7.strict).toBe(true);
    expectStrictValid(draft7.schema);
    expect(draft7.fromModel({ a: { n: null } })).toEqual({ a: {} });
  });

  it('a workflow inputs JSON Schema (the chat agent functions) and zod 3 schemas convert too', () => {
    const inputs = {
      type: 'object',
      properties: {
        topic: { type: 'string', default: 'rooftop gardens', description: 'what it is about' },
        to: { type: 'string' },
      },
      required: ['to'],
    };
    const m = modelSchema(inputs);
    expectStrictValid(m.schema);
    expect((m.schema.properties as Record<string, unknown>).topic).toEqual({
      type: ['string', 'null'],
      description: 'what it is about (default: "rooftop gardens")',
    });
    expect(m.fromModel({ topic: null, to: 'a@b.c' })).toEqual({ to: 'a@b.c' });
    const v3 = modelSchema(z3.object({ a: z3.string().optional(), n: z3.number().gt(0) }));
    expect(v3.strict).toBe(true);
    expectStrictValid(v3.schema);
  });
});

describe('modelSchema: strict: false with the plain schema when it cannot be', () => {
  it.each([
    ['an open map (z.record)', z.object({ tags: z.record(z.string(), z.number()) }), /z.record/],
    ['a value of any type (z.unknown)', z.object({ results: z.unknown() }), /any value/],
    ['a tuple', z.object({ pair: z.tuple([z.string(), z.number()]) }), /strict mode cannot express/],
    ['a catch-all', z.object({ a: z.string() }).catchall(z.number()), /catch-all/],
    ['a root that is not an object', z.string(), /root is not an object/],
  ])('%s', (_, schema, reason) => {
    const m = modelSchema(schema);
    expect(m.strict).toBe(false);
    expect(m.reason).toMatch(reason);
    expect(m.schema).toEqual(schemaToJsonSchema(schema as never));
    expect(m.fromModel({ x: null })).toEqual({ x: null });
  });

  it('every built-in tool input and output, the classifier and the idea answer: strict-valid, or plain with a reason', () => {
    const strict: string[] = [];
    for (const t of builtinTools()) {
      for (const [what, schema] of [
        ['input', t.input],
        ['output', t.output],
      ] as const) {
        if (!schema) continue;
        const m = modelSchema(schema);
        if (m.strict) {
          expectStrictValid(m.schema);
          strict.push(`${t.name}.${what}`);
        } else expect(m.reason, `${t.name}.${what}`).toBeTruthy();
      }
    }
    expect(strict).toEqual(
      expect.arrayContaining(['llm_generate_idea.input', 'draft_email.input', 'web_search.input', 'send_email.input']),
    );
    for (const s of [classificationSchema(['good', 'bad']), ideaSchema]) expectStrictValid(modelSchema(s).schema);
  });
});

describe('modelSchema: built once', () => {
  it('the JSON Schema and the model schema of a schema object are cached and frozen', () => {
    const schema = z.object({ a: z.string().optional() });
    expect(schemaToJsonSchema(schema)).toBe(schemaToJsonSchema(schema));
    expect(modelSchema(schema)).toBe(modelSchema(schema));
    expect(Object.isFrozen(modelSchema(schema).schema.properties)).toBe(true);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) modelSchema(schema);
    expect((performance.now() - t0) / 10_000).toBeLessThan(0.01); // ms per call: a lookup, not a ~30 µs rebuild
  });
});

/**
 * Random JSON Schemas of the shapes tools use: objects with optional fields, arrays, enums, unions, keywords strict
 * mode lacks.
 */
const leaf = fc.oneof(
  fc.record({ type: fc.constantFrom('string', 'number', 'integer', 'boolean') }),
  fc.record(
    {
      type: fc.constant('string'),
      minLength: fc.nat(5),
      format: fc.constantFrom('email', 'uri', 'date-time', 'hostname'),
      pattern: fc.constantFrom('^a+$', '^(?!x).*$'),
    },
    { requiredKeys: ['type'] },
  ),
  fc.record(
    { type: fc.constant('number'), minimum: fc.integer(), maximum: fc.integer(), default: fc.integer() },
    { requiredKeys: ['type'] },
  ),
  fc.record({ enum: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ type: fc.constant(['string', 'null']) }),
);
const { schema: arbitrarySchema } = fc.letrec<{ schema: Record<string, unknown>; object: Record<string, unknown> }>(
  (tie) => ({
    schema: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      tie('object'),
      fc.record(
        { type: fc.constant('array'), items: tie('schema'), uniqueItems: fc.boolean() },
        { requiredKeys: ['type', 'items'] },
      ),
      fc.record({ anyOf: fc.array(tie('schema'), { minLength: 1, maxLength: 3 }) }),
    ),
    object: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), tie('schema'), { maxKeys: 4 }).chain((properties) =>
      fc.record(
        {
          type: fc.constant('object'),
          properties: fc.constant(properties),
          required: fc.subarray(Object.keys(properties)),
          additionalProperties: fc.constantFrom(undefined, true, false, {}),
        },
        { requiredKeys: ['type', 'properties', 'required'] },
      ),
    ),
  }),
);

describe('modelSchema: property', () => {
  it('whatever the schema, what is sent as strict passes the API rules and the SDK transform', () => {
    fc.assert(
      fc.property(
        arbitrarySchema.filter((s) => s.type === 'object'),
        (schema) => {
          const m = modelSchema(JSON.parse(JSON.stringify(schema)));
          if (m.strict) expectStrictValid(m.schema);
          else expect(m.reason).toBeTruthy();
        },
      ),
      { numRuns: 300 },
    );
  });
});
