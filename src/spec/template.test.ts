/** Templates (workflow-spec.md §5), as unit tests: splitting, parsing references, rendering. */
import { describe, expect, it } from 'vitest';
import { compileTemplate, findRefs, hasTemplate, parseRef, splitTemplates } from './template.js';

const ids = new Set(['a', 'x.y', 'c']);
const ctx = {
  input: { topic: 'kites', n: 3, list: [{ name: 'first' }], nothing: null },
  tasks: { a: { output: { text: 'hi', obj: { z: 1 } } }, 'x.y': { output: 5 } },
  item: 'it',
  index: 2,
};
const render = (value: unknown) => compileTemplate(value, ids)(ctx);

describe('splitTemplates: literal text and trimmed bodies, alternating', () => {
  it('splits, trims bodies, and leaves an unclosed or reversed brace pair as text', () => {
    expect(splitTemplates('x {{ a }} y {{b}}z')).toEqual(['x ', 'a', ' y ', 'b', 'z']);
    expect(splitTemplates('{{a}}')).toEqual(['', 'a', '']);
    expect(splitTemplates('no templates')).toEqual(['no templates']);
    expect(splitTemplates('{{ open')).toEqual(['{{ open']);
    expect(splitTemplates('}} {{')).toEqual(['}} {{']);
    expect(splitTemplates('{{}}}')).toEqual(['', '', '}']);
    // the closing braces are looked for after the opening ones
    expect(splitTemplates('}}{{a}}')).toEqual(['}}', 'a', '']);
  });
});

describe('parseRef: what a template body reads', () => {
  it('a path under a known root; indexes become segments', () => {
    expect(parseRef('input.topic', ids)).toEqual({ raw: 'input.topic', segments: ['input', 'topic'] });
    expect(parseRef('input.list[0].name', ids)).toEqual({
      raw: 'input.list[0].name',
      segments: ['input', 'list', '0', 'name'],
    });
    expect(parseRef('item', ids)).toEqual({ raw: 'item', segments: ['item'] });
    expect(parseRef('input.rows[12][3]', ids)).toEqual({
      raw: 'input.rows[12][3]',
      segments: ['input', 'rows', '12', '3'],
    });
  });

  it('a task reference keeps a dotted task id whole, and names an unknown id by its first segment', () => {
    expect(parseRef('tasks.x.y.output.v', ids)).toEqual({
      raw: 'tasks.x.y.output.v',
      segments: ['tasks', 'x.y', 'output', 'v'],
      taskId: 'x.y',
    });
    expect(parseRef('tasks.a.output', ids)).toEqual({
      raw: 'tasks.a.output',
      segments: ['tasks', 'a', 'output'],
      taskId: 'a',
    });
    expect(parseRef('tasks.zz.output', ids)).toEqual({
      raw: 'tasks.zz.output',
      segments: ['tasks', 'zz', 'output'],
      taskId: 'zz',
    });
    expect(parseRef('tasks.x.y', ids)).toEqual({ raw: 'tasks.x.y', segments: ['tasks', 'x.y'], taskId: 'x.y' });
  });

  it('problems: not a path, an unknown root, tasks without an id', () => {
    expect(parseRef('x y', ids)).toEqual({
      raw: 'x y',
      segments: [],
      problem: '"{{ x y }}" is not a path like input.topic or tasks.<id>.output.field',
    });
    expect(parseRef('a..b', ids).problem).toContain('is not a path');
    expect(parseRef('foo.bar', ids)).toEqual({
      raw: 'foo.bar',
      segments: ['foo', 'bar'],
      problem: '"{{ foo.bar }}" starts with "foo"; templates start with input, tasks, item, index, run, error',
    });
    expect(parseRef('tasks', ids)).toEqual({
      raw: 'tasks',
      segments: ['tasks'],
      problem: '"{{ tasks }}" names no task; write tasks.<id>.output',
    });
    for (const ok of ['input', 'tasks.a', 'item', 'index', 'run', 'error', 'run.id', 'input.a-b.c_d.$e'])
      expect(parseRef(ok, ids).problem).toBeUndefined();
  });
});

describe('findRefs: every reference in a JSON value, with its field path', () => {
  it('walks strings, arrays and objects, several references per string', () => {
    expect(
      findRefs({ k: ['{{ input.a }} and {{ tasks.c.output }}', 3, null, { d: '{{ item }}' }] }, ids, ['in']),
    ).toEqual([
      { ref: { raw: 'input.a', segments: ['input', 'a'] }, path: ['in', 'k', 0] },
      { ref: { raw: 'tasks.c.output', segments: ['tasks', 'c', 'output'], taskId: 'c' }, path: ['in', 'k', 0] },
      { ref: { raw: 'item', segments: ['item'] }, path: ['in', 'k', 3, 'd'] },
    ]);
    expect(findRefs('{{ input.q }}', ids)).toEqual([{ ref: { raw: 'input.q', segments: ['input', 'q'] }, path: [] }]);
    expect(findRefs({ a: 'plain', b: 7 }, ids)).toEqual([]);
  });
});

describe('compileTemplate: rendering', () => {
  it('a string that is exactly one template keeps the value and its type; missing is null', () => {
    expect(render('{{ input.n }}')).toBe(3);
    expect(render('{{input.list}}')).toEqual([{ name: 'first' }]);
    expect(render('{{ tasks.x.y.output }}')).toBe(5);
    expect(render('{{ input.missing }}')).toBeNull();
    expect(render('{{ input.nothing }}')).toBeNull();
  });

  it('inside a longer string values are stringified (objects as JSON); missing and null are empty', () => {
    expect(render(' {{ input.n }}')).toBe(' 3');
    expect(render('n={{ input.n }} t={{ input.topic }}.')).toBe('n=3 t=kites.');
    expect(render('o={{ tasks.a.output.obj }}')).toBe('o={"z":1}');
    expect(render('m={{ input.missing }}|{{ input.nothing }}|')).toBe('m=||');
    expect(render('{{ item }}-{{ index }}')).toBe('it-2');
    expect(render('{{ input.list[0].name }}')).toBe('first');
    // two templates, or one with text after it, are text, not one value
    expect(render('{{ input.n }}{{ input.topic }}')).toBe('3kites');
    expect(render('{{ input.n }} and {{ input.topic }}')).toBe('3 and kites');
    expect(render('{{ input.n }}!')).toBe('3!');
    expect(render('#{{ input.n }}')).toBe('#3');
  });

  it('reads own members only: inherited properties and members of strings are missing', () => {
    expect(render('{{ input.constructor }}')).toBeNull();
    expect(render('c={{ input.constructor }}')).toBe('c=');
    expect(render('{{ tasks.__proto__ }}')).toBeNull();
    expect(render('{{ input.topic.length }}')).toBeNull();
  });

  it('arrays and objects render member by member; values without templates come back as they are', () => {
    expect(render(['{{ input.n }}', 1])).toEqual([3, 1]);
    expect(render({ a: 1, b: { c: '{{ input.topic }}' } })).toEqual({ a: 1, b: { c: 'kites' } });
    const literal = { a: [1, 2], b: 'x' };
    expect(render(literal)).toBe(literal);
    const list = [1, 'two'];
    expect(render(list)).toBe(list);
    expect(render('plain')).toBe('plain');
    expect(render('{{ not closed')).toBe('{{ not closed');
    expect(render(7)).toBe(7);
    expect(render(null)).toBeNull();
  });
});

describe('hasTemplate', () => {
  it('finds {{ in strings at any depth', () => {
    expect(hasTemplate('{{')).toBe(true);
    expect(hasTemplate(['a', { b: '{{x}}' }])).toBe(true);
    expect(hasTemplate({ a: { b: ['c', '{{ d }}'] } })).toBe(true);
    expect(hasTemplate({ a: 1, b: ['c'] })).toBe(false);
    expect(hasTemplate('plain')).toBe(false);
    expect(hasTemplate(5)).toBe(false);
    expect(hasTemplate(null)).toBe(false);
  });
});
