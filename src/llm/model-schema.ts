/**
 * The schema a model is sent, for a structured answer (`response_format`) and for a function's parameters
 * (`tools[].function.parameters`) alike: built once per schema and cached.
 *
 * OpenAI's Structured Outputs in strict mode take a subset of JSON Schema: the root is an object, not a union;
 * every object sets `additionalProperties: false`; every key of `properties` is listed in `required` (an optional
 * field is a required field whose type allows `null`); only some keywords are supported. `modelSchema` rewrites a
 * schema to those rules when it can:
 *
 * - optional fields become required and nullable; a default moves into the description ("(default: 3)");
 * - every object is closed (`additionalProperties: false`), a loose object too (extra keys are never needed);
 * - `$defs` (or `definitions`) and local `$ref`s are kept (`#/definitions/x` becomes `#/$defs/x`); `oneOf` is sent
 *   as `anyOf`; `const` as a one-value `enum`;
 * - keywords that only narrow values and that strict mode does not support are dropped (`minLength`, `maxLength`,
 *   `uniqueItems`, `not`, formats other than the supported ones, patterns with look-arounds, `default`, `title`,
 *   ...): zod still validates the answer afterwards.
 *
 * When it cannot (a value of any type such as `z.unknown()`, an open map such as `z.record`, a catch-all, a tuple,
 * an intersection it cannot merge, a root that is not an object, or over the API's size limits), the plain schema is
 * sent with `strict: false` and `reason` says why. `fromModel` maps an answer back before zod sees it: `null` in a
 * field that was optional means the field is absent, so zod applies its default.
 */
import { deepFreeze, schemaToJsonSchema, type JsonSchema } from '../core/schema.js';
import type { SchemaLike } from '../core/schema.js';

/** A schema as the model is sent it, and how to read the answer back. @beta */
export interface ModelSchema {
  /** What is sent (frozen). */
  readonly schema: JsonSchema;
  /** Sent with `strict: true`. */
  readonly strict: boolean;
  /** Why the schema could not be made strict. */
  readonly reason?: string;
  /** An answer back in the schema's own terms: `null` in a field that was optional becomes an absent field. */
  fromModel(value: unknown): unknown;
}

/** The API's documented limits for one strict schema. */
const LIMITS = { depth: 10, properties: 5000, enumValues: 1000 };
/** String formats strict mode supports. */
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
/** Keywords whose meaning is lost if dropped: the schema is sent non-strict. */
const SHAPE_KEYWORDS = [
  'allOf',
  'patternProperties',
  'prefixItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'dependentSchemas',
  '$dynamicRef',
  '$recursiveRef',
];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'] as const;

const EMPTY_OBJECT: JsonSchema = deepFreeze({ type: 'object', properties: {} });
const cache = new WeakMap<object, ModelSchema>();

/** The model-facing schema of a zod schema (v4 or v3) or a JSON Schema object; cached per schema object. @beta */
export function modelSchema(source: SchemaLike | JsonSchema | undefined): ModelSchema {
  const key = source ?? EMPTY_OBJECT;
  let built = cache.get(key);
  if (!built) {
    built = build(
      typeof (key as SchemaLike).safeParse === 'function' ? schemaToJsonSchema(key as SchemaLike) : (key as JsonSchema),
    );
    cache.set(key, built);
  }
  return built;
}

/**
 * Internal control flow, not an error anyone sees: the converter throws it to give up on strict mode, and `build`
 * catches every one of them and answers a non-strict schema with its message as the `reason`. Never escapes this
 * module, so it is no `BraidError` (test/errors.test.ts allows it by name).
 */
class NotStrict extends Error {}

function build(plain: JsonSchema): ModelSchema {
  try {
    const converter = new Converter(plain);
    const { schema, back } = converter.convert();
    const defs = converter.defBacks;
    return {
      schema: deepFreeze(schema),
      strict: true,
      fromModel: back || defs.size ? (value) => mapBack(value, back, { root: back, defs }) : identity,
    };
  } catch (err) {
    if (!(err instanceof NotStrict)) throw err;
    const { $schema: _, ...rest } = plain;
    // Function parameters must declare `properties` even when not strict.
    const schema = rest.type === 'object' && rest.properties === undefined ? { ...rest, properties: {} } : rest;
    return { schema: deepFreeze(schema), strict: false, reason: err.message, fromModel: identity };
  }
}

const identity = (value: unknown) => value;

/** Where `null` stands for an absent field in an answer; undefined where nothing needs mapping. */
interface Back {
  /** Per property: optional (null → absent) and/or work inside it. */
  readonly props?: ReadonlyMap<string, { readonly optional: boolean; readonly inner?: Back }>;
  readonly items?: Back;
  /** Union branches: an object value goes to the first object branch whose properties hold all its keys. */
  readonly anyOf?: readonly { readonly keys?: ReadonlySet<string>; readonly array: boolean; readonly back?: Back }[];
  /** A definition name, or "#" for the root. */
  readonly ref?: string;
}

type Converted = { schema: JsonSchema; back?: Back };

const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);
const where = (path: readonly string[]) => (path.length ? `at ${path.join('.')}` : 'the root');

class Converter {
  readonly defBacks = new Map<string, Back | undefined>();
  #properties = 0;
  #enumValues = 0;

  constructor(private readonly plain: JsonSchema) {}

  convert(): Converted {
    const root = this.node(this.plain, [], 0);
    if (root.schema.type !== 'object')
      throw new NotStrict(
        'the root is not an object (strict mode needs an object at the root, not a union or a nullable value)',
      );
    const defs = (this.plain.$defs ?? this.plain.definitions) as Record<string, unknown> | undefined;
    if (isObject(defs)) {
      const out: JsonSchema = {};
      for (const [name, def] of Object.entries(defs)) {
        const c = this.node(def, ['$defs', name], 0);
        out[name] = c.schema;
        this.defBacks.set(name, c.back);
      }
      root.schema.$defs = out;
    }
    if (this.#properties > LIMITS.properties)
      throw new NotStrict(
        `${this.#properties} object properties, more than the ${LIMITS.properties} strict mode allows`,
      );
    if (this.#enumValues > LIMITS.enumValues)
      throw new NotStrict(`${this.#enumValues} enum values, more than the ${LIMITS.enumValues} strict mode allows`);
    return root;
  }

  node(input: unknown, path: string[], depth: number): Converted {
    if (input === true) throw new NotStrict(`${where(path)} accepts any value`);
    if (!isObject(input)) throw new NotStrict(`${where(path)} is not a schema object`);
    const s = input;
    for (const k of SHAPE_KEYWORDS)
      if (s[k] !== undefined) throw new NotStrict(`${where(path)} uses "${k}", which strict mode cannot express`);
    const description = typeof s.description === 'string' ? { description: s.description } : {};
    if (typeof s.$ref === 'string') return this.ref(s.$ref, path);
    const union = s.anyOf ?? s.oneOf;
    if (union !== undefined) {
      if (!Array.isArray(union)) throw new NotStrict(`${where(path)} has a malformed anyOf`);
      if (s.type !== undefined || s.properties !== undefined)
        throw new NotStrict(`${where(path)} mixes a union with other keywords`);
      const branches = union.map((b, i) => this.node(b, [...path, `anyOf[${i}]`], depth));
      const back = branches.some((b) => b.back)
        ? {
            anyOf: branches.map((b) => ({
              keys: isObject(b.schema.properties) ? new Set(Object.keys(b.schema.properties)) : undefined,
              array: typeIncludes(b.schema, 'array'),
              back: b.back,
            })),
          }
        : undefined;
      return { schema: { anyOf: branches.map((b) => b.schema), ...description }, back };
    }
    const out: JsonSchema = {};
    let types = typeList(s);
    if (s.nullable === true && types.length && !types.includes('null')) types = [...types, 'null'];
    const values = Array.isArray(s.enum) ? s.enum : 'const' in s ? [s.const] : undefined;
    if (values) {
      const withNull = s.nullable === true && !values.includes(null) ? [...values, null] : values;
      this.#enumValues += withNull.length;
      if (types.length) out.type = types.length === 1 ? types[0] : types;
      out.enum = withNull;
      return { schema: Object.assign(out, description) };
    }
    if (!types.length) throw new NotStrict(`${where(path)} accepts any value (no type)`);
    for (const t of types)
      if (!['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'].includes(t))
        throw new NotStrict(`${where(path)} has the unknown type "${t}"`);
    out.type = types.length === 1 ? types[0] : types;
    let back: Back | undefined;
    if (types.includes('object')) back = this.object(s, out, path, depth);
    if (types.includes('array')) {
      if (Array.isArray(s.items) || s.additionalItems !== undefined)
        throw new NotStrict(`${where(path)} is a tuple, which strict mode cannot express`);
      if (!isObject(s.items) && s.items !== true)
        throw new NotStrict(`${where(path)} is an array without an item schema`);
      const items = this.node(s.items, [...path, '[]'], depth);
      out.items = items.schema;
      if (items.back) back = { items: items.back };
      for (const k of ['minItems', 'maxItems']) if (typeof s[k] === 'number') out[k] = s[k];
    }
    if (types.includes('string')) {
      if (typeof s.format === 'string' && FORMATS.has(s.format)) out.format = s.format;
      // Look-arounds and back-references are not in the API's regex dialect; zod checks the pattern afterwards.
      if (typeof s.pattern === 'string' && !/\(\?|\\\d/.test(s.pattern)) out.pattern = s.pattern;
    }
    if (types.includes('number') || types.includes('integer')) numberKeywords(s, out);
    return { schema: Object.assign(out, description), back };
  }

  /** Properties all required (optional ones nullable), the object closed; returns the null mapping. */
  object(s: JsonSchema, out: JsonSchema, path: string[], depth: number): Back | undefined {
    if (depth + 1 > LIMITS.depth) throw new NotStrict(`${where(path)} nests objects more than ${LIMITS.depth} deep`);
    const extra = s.additionalProperties;
    const open =
      extra !== undefined &&
      extra !== false &&
      !(extra === true || (isObject(extra) && Object.keys(extra).length === 0));
    if (open)
      throw new NotStrict(
        `${where(path)} takes extra keys of a given type (like z.record or a catch-all), which strict mode cannot express`,
      );
    if (!isObject(s.properties)) {
      if (extra === false) s = { ...s, properties: {} };
      else throw new NotStrict(`${where(path)} is an object without declared properties (any keys)`);
    }
    const props = s.properties as Record<string, unknown>;
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    const properties: JsonSchema = {};
    const backs = new Map<string, { optional: boolean; inner?: Back }>();
    for (const [key, sub] of Object.entries(props)) {
      this.#properties++;
      const c = this.node(sub, [...path, key], depth + 1);
      const optional = !required.has(key);
      properties[key] = optional ? nullable(c.schema, isObject(sub) ? sub.default : undefined) : c.schema;
      if (optional || c.back) backs.set(key, { optional, ...(c.back ? { inner: c.back } : {}) });
    }
    out.properties = properties;
    out.required = Object.keys(properties);
    out.additionalProperties = false;
    return backs.size ? { props: backs } : undefined;
  }

  /** A `$ref` is sent alone: strict mode refuses keywords beside it (a description is dropped). */
  ref(ref: string, path: string[]): Converted {
    if (ref === '#') return { schema: { $ref: '#' }, back: { ref: '#' } };
    const m = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(ref);
    if (!m) throw new NotStrict(`${where(path)} refers to "${ref}", which is not a local definition`);
    return {
      schema: { $ref: `#/$defs/${m[1]}` },
      back: { ref: decodeURIComponent(m[1].replace(/~1/g, '/').replace(/~0/g, '~')) },
    };
  }
}

function typeList(s: JsonSchema): string[] {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  if (isObject(s.properties) || s.additionalProperties === false) return ['object'];
  if (s.items !== undefined) return ['array'];
  return [];
}

const typeIncludes = (s: JsonSchema, t: string) => s.type === t || (Array.isArray(s.type) && s.type.includes(t));

/** Number bounds; draft-4 boolean `exclusiveMinimum`/`exclusiveMaximum` (zod 3, OpenAPI 3) become numbers. */
function numberKeywords(s: JsonSchema, out: JsonSchema): void {
  for (const k of NUMBER_KEYWORDS) if (typeof s[k] === 'number') out[k] = s[k];
  if (s.exclusiveMinimum === true && typeof s.minimum === 'number')
    ((out.exclusiveMinimum = s.minimum), delete out.minimum);
  if (s.exclusiveMaximum === true && typeof s.maximum === 'number')
    ((out.exclusiveMaximum = s.maximum), delete out.maximum);
}

const PRIMITIVES = ['string', 'number', 'integer', 'boolean', 'null'];

/**
 * The same schema, also allowing null; a default the model cannot leave out any more is named in the description.
 * A primitive type gets `type: [t, "null"]` (the form OpenAI's docs show); anything else (an enum, an object, an
 * array, a `$ref`) becomes `anyOf: [schema, { type: "null" }]`, as the official SDKs send optional fields.
 */
function nullable(schema: JsonSchema, dflt: unknown): JsonSchema {
  const note = dflt === undefined || dflt === null ? '' : `(default: ${JSON.stringify(dflt)})`;
  const description = [schema.description, note].filter(Boolean).join(' ');
  const withDescription = (s: JsonSchema) => (description ? { ...s, description } : s);
  if (Array.isArray(schema.anyOf)) {
    const hasNull = schema.anyOf.some((b) => isObject(b) && b.type === 'null');
    return withDescription(hasNull ? schema : { ...schema, anyOf: [...schema.anyOf, { type: 'null' }] });
  }
  const types =
    typeof schema.type === 'string' ? [schema.type] : Array.isArray(schema.type) ? (schema.type as string[]) : [];
  if (types.includes('null') || (Array.isArray(schema.enum) && schema.enum.includes(null)))
    return withDescription(schema);
  if (types.length && !Array.isArray(schema.enum) && types.every((t) => PRIMITIVES.includes(t)))
    return withDescription({ ...schema, type: [...types, 'null'] });
  const { description: _, ...inner } = schema;
  return withDescription({ anyOf: [inner, { type: 'null' }] });
}

function mapBack(
  value: unknown,
  back: Back | undefined,
  ctx: { root?: Back; defs: ReadonlyMap<string, Back | undefined> },
  seen = 0,
): unknown {
  if (!back || value === null || typeof value !== 'object' || seen > 64) return value;
  if (back.ref !== undefined)
    return mapBack(value, back.ref === '#' ? ctx.root : ctx.defs.get(back.ref), ctx, seen + 1);
  if (back.anyOf) {
    const keys = Array.isArray(value) ? [] : Object.keys(value);
    const branch = back.anyOf.find((b) =>
      Array.isArray(value) ? b.array : b.keys && keys.every((k) => b.keys!.has(k)),
    );
    return mapBack(value, branch?.back, ctx, seen + 1);
  }
  if (Array.isArray(value)) return back.items ? value.map((v) => mapBack(v, back.items, ctx, seen + 1)) : value;
  if (!back.props) return value;
  const out = { ...(value as Record<string, unknown>) };
  for (const [key, p] of back.props) {
    if (!(key in out)) continue;
    if (out[key] === null && p.optional) delete out[key];
    else if (p.inner) out[key] = mapBack(out[key], p.inner, ctx, seen + 1);
  }
  return out;
}
