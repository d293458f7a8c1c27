/**
 * JSON Patch (RFC 6902) for plain JSON values, as an approval's edit is recorded (workflow-spec.md §2): `diffJson`
 * gives the operations that turn one value into another (`add`, `remove`, `replace`; arrays are compared by
 * index), `applyJsonPatch` applies such operations to a copy. Pointers are RFC 6901 (`~0` for `~`, `~1` for `/`).
 */

/** One JSON Patch operation, as an approval's edit is recorded. @public */
export type JsonPatchOp =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown };

const escape = (key: string | number) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');
const unescape = (token: string) => token.replace(/~1/g, '/').replace(/~0/g, '~');

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether two JSON values are equal (objects by their keys, whatever their order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The operations that turn `from` into `to` (none when they are equal as JSON). */
export function diffJson(from: unknown, to: unknown, path = ''): JsonPatchOp[] {
  if (jsonEqual(from, to)) return [];
  if (isObject(from) && isObject(to)) {
    const ops: JsonPatchOp[] = [];
    for (const k of Object.keys(from))
      if (!Object.hasOwn(to, k)) ops.push({ op: 'remove', path: `${path}/${escape(k)}` });
    for (const k of Object.keys(to)) {
      const at = `${path}/${escape(k)}`;
      if (!Object.hasOwn(from, k)) ops.push({ op: 'add', path: at, value: to[k] });
      else ops.push(...diffJson(from[k], to[k], at));
    }
    return ops;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const ops: JsonPatchOp[] = [];
    const common = Math.min(from.length, to.length);
    for (let i = 0; i < common; i++) ops.push(...diffJson(from[i], to[i], `${path}/${i}`));
    // Removed from the end backwards, so each index is still valid when its operation applies.
    for (let i = from.length - 1; i >= common; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
    for (let i = common; i < to.length; i++) ops.push({ op: 'add', path: `${path}/${i}`, value: to[i] });
    return ops;
  }
  return [{ op: 'replace', path, value: to }];
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** `doc` with the operations applied (a copy; `doc` is not changed). Throws on a path that does not exist. */
export function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOp[]): unknown {
  let root = clone(doc);
  for (const o of ops) {
    if (o.path === '') {
      if (o.op === 'remove') throw new Error('JSON Patch: cannot remove the whole document');
      root = clone(o.value);
      continue;
    }
    if (!o.path.startsWith('/')) throw new Error(`JSON Patch: bad pointer "${o.path}"`);
    const tokens = o.path.slice(1).split('/').map(unescape);
    const last = tokens.pop()!;
    let parent: unknown = root;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? parent[Number(t)] : isObject(parent) ? parent[t] : undefined;
      if (parent === null || typeof parent !== 'object') throw new Error(`JSON Patch: no value at "${o.path}"`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      const max = o.op === 'add' ? parent.length : parent.length - 1;
      if (!Number.isInteger(i) || i < 0 || i > max) throw new Error(`JSON Patch: no index at "${o.path}"`);
      if (o.op === 'add') parent.splice(i, 0, clone(o.value));
      else if (o.op === 'remove') parent.splice(i, 1);
      else parent[i] = clone(o.value);
    } else if (isObject(parent)) {
      if (o.op !== 'add' && !Object.hasOwn(parent, last)) throw new Error(`JSON Patch: no value at "${o.path}"`);
      if (o.op === 'remove') delete parent[last];
      // Defined, not assigned: a key such as `__proto__` is a plain field of JSON.
      else
        Object.defineProperty(parent, last, {
          value: clone(o.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    } else throw new Error(`JSON Patch: no value at "${o.path}"`);
  }
  return root;
}
