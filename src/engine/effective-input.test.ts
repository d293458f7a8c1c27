/**
 * The effective input (workflow-spec.md §5a) as unit tests: which source gives each open field, and how it is reported.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../toolkit/define-tool.js';
import type { UpstreamMapping } from '../toolkit/types.js';
import { effectiveInput, implicitInputOf, mergeByName } from './effective-input.js';

const take = defineTool({
  name: 'take',
  input: z.object({ a: z.unknown().optional(), b: z.unknown().optional(), c: z.string().default('c0') }),
  run: (i) => i,
});
const up = (taskId: string, output: unknown) => ({ taskId, output });

describe('implicitInputOf', () => {
  it('the fields the explicit input leaves open, in schema order, with the defaulted ones', () => {
    const implicit = implicitInputOf({ id: 't', tool: 'take', input: { b: 1 } }, take)!;
    expect(implicit.open).toEqual(['a', 'c']);
    expect([...implicit.openSet]).toEqual(['a', 'c']);
    expect([...implicit.defaulted]).toEqual(['c']);
    expect('mapping' in implicit).toBe(false);
    expect(implicitInputOf({ id: 't', tool: 'take' }, take)!.open).toEqual(['a', 'b', 'c']);
  });

  it('none when the explicit input decides everything: every field given, or a whole-input template', () => {
    expect(implicitInputOf({ id: 't', tool: 'take', input: { a: 1, b: 2, c: 'x' } }, take)).toBeUndefined();
    expect(implicitInputOf({ id: 't', tool: 'take', input: '{{ input }}' }, take)).toBeUndefined();
    const none = defineTool({ name: 'none', input: z.object({}), run: () => 1 });
    expect(implicitInputOf({ id: 't', tool: 'none' }, none)).toBeUndefined();
  });

  it("keeps the tool's own upstream mapping", () => {
    const mapping: UpstreamMapping = { description: 'all', provides: () => ['a'], take: () => ({}) };
    const mapped = defineTool({ name: 'm', input: z.object({ a: z.unknown() }), upstream: mapping, run: (i) => i });
    expect(implicitInputOf({ id: 't', tool: 'm' }, mapped)!.mapping).toBe(mapping);
  });
});

describe('mergeByName', () => {
  it('open fields by name, a later upstream wins; null, undefined and non-object outputs give nothing', () => {
    expect(
      mergeByName(
        ['a', 'b', 'c'],
        [up('x', { a: 1, b: 1, z: 9 }), up('y', { a: 2, b: null, c: undefined }), up('s', 'text'), up('n', null)],
      ),
    ).toEqual({
      a: { value: 2, from: 'tasks.y.output.a' },
      b: { value: 1, from: 'tasks.x.output.b' },
    });
    expect(mergeByName(['a'], [up('x', Object.create({ a: 'inherited' }))])).toEqual({});
  });
});

describe('effectiveInput', () => {
  const implicit = implicitInputOf({ id: 't', tool: 'take', input: { b: 'explicit' } }, take)!;

  it('run input < upstream output < explicit input, with the source of every field', () => {
    expect(
      effectiveInput(implicit, { b: 'explicit' }, { a: 'run', b: 'run', c: 'run' }, [up('x', { a: 'up' })]),
    ).toEqual({
      input: { a: 'up', c: 'run', b: 'explicit' },
      sources: { a: 'tasks.x.output.a', c: 'input.c', b: 'explicit' },
    });
  });

  it('a run input that is undefined or not own gives nothing; a defaulted field nobody gave is reported as default', () => {
    expect(effectiveInput(implicit, { b: 1 }, { a: undefined }, [up('x', { a: 'up' })])).toEqual({
      input: { a: 'up', b: 1 },
      sources: { a: 'tasks.x.output.a', b: 'explicit', c: 'default' },
    });
    const inherited = Object.create({ a: 'inherited' }) as Record<string, unknown>;
    expect(effectiveInput(implicit, { b: 1 }, inherited, [])).toEqual({ input: { b: 1 } });
    expect(effectiveInput(implicit, { b: 1 }, 'not an object', [])).toEqual({ input: { b: 1 } });
    const explicit = { b: 1 };
    const r = effectiveInput(implicit, explicit, { a: undefined, c: undefined }, []);
    expect(r.input).toBe(explicit);
    expect('sources' in r).toBe(false);
  });

  it('nothing taken: the explicit input is returned as it is, without sources', () => {
    const explicit = { b: 1 };
    const r = effectiveInput(implicit, explicit, {}, [up('x', { z: 1 })]);
    expect(r.input).toBe(explicit);
    expect('sources' in r).toBe(false);
  });

  it('a mapping replaces merging by name; what it gives for fields that are not open, or undefined, is dropped', () => {
    const mapping: UpstreamMapping = {
      description: 'test',
      provides: () => ['a', 'b'],
      take: (ups) => ({
        a: { value: ups.length, from: 'mapping.count' },
        b: { value: 'not open', from: 'mapping.b' },
        c: { value: undefined, from: 'mapping.c' },
      }),
    };
    const mapped = defineTool({
      name: 'm',
      input: z.object({ a: z.unknown(), b: z.unknown(), c: z.unknown().optional() }),
      upstream: mapping,
      run: (i) => i,
    });
    const impl = implicitInputOf({ id: 't', tool: 'm', input: { b: 'mine' } }, mapped)!;
    expect(effectiveInput(impl, { b: 'mine' }, {}, [up('x', { a: 'by name' }), up('y', {})])).toEqual({
      input: { a: 2, b: 'mine' },
      sources: { a: 'mapping.count', b: 'explicit' },
    });
  });
});
