import { describe, expect, it } from 'vitest';
import { applyJsonPatch, diffJson, jsonEqual } from './json-patch.js';

describe('JSON Patch (RFC 6902) of plain JSON values', () => {
  const cases: [string, unknown, unknown][] = [
    ['equal objects in another key order', { a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }],
    ['a changed field', { to: 'a@x', n: 1 }, { to: 'b@x', n: 1 }],
    ['added and removed fields', { a: 1, b: 2 }, { b: 2, c: { d: [1] } }],
    ['arrays growing and shrinking', { l: [1, 2, 3, 4] }, { l: [1, 5] }],
    ['arrays growing', [1], [1, { x: 2 }, 3]],
    ['a whole replacement', { a: 1 }, 'text'],
    ['keys that need escaping', { 'a/b': 1, 'c~d': 2 }, { 'a/b': 3, 'e~/': 4 }],
    ['nested', { x: { y: { z: [1, { w: 1 }] } } }, { x: { y: { z: [1, { w: 2, v: null }] } } }],
  ];
  it.each(cases)('diff then apply gives the target: %s', (_, from, to) => {
    const ops = diffJson(from, to);
    expect(applyJsonPatch(from, ops)).toEqual(to);
    if (jsonEqual(from, to)) expect(ops).toEqual([]);
  });

  it('names the changed field by its pointer and leaves the original as it was', () => {
    const from = { to: 'a@x', cc: ['b'] };
    const ops = diffJson(from, { to: 'c@x', cc: ['b'] });
    expect(ops).toEqual([{ op: 'replace', path: '/to', value: 'c@x' }]);
    applyJsonPatch(from, ops);
    expect(from.to).toBe('a@x');
  });

  it('refuses a path that does not exist, and keeps __proto__ a plain field', () => {
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 1 }])).toThrow(/no value at "\/b"/);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/a/b/c', value: 1 }])).toThrow(/no value/);
    const out = applyJsonPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]) as object;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
