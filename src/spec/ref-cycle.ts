/**
 * A `$ref` that leads back to where it started without any `properties` or `items` in between
 * (`inputs: { $ref: "#" }`, `{ allOf: [{ $ref: "#" }] }`, two definitions that name each other) describes no value:
 * zod's `fromJSONSchema` builds a schema from it that overflows the stack on the first check, so a run of such a
 * workflow crashed instead of answering. `validate` finds these loops first and names where they are.
 * Recursion through `properties`/`items` (a tree of nodes) is fine and is not reported.
 */

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The subschema a local `$ref` (`#`, `#/$defs/a`, `#/properties/x~1y`) points at in `root`, if any. */
function resolve(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined; // a malformed %-escape: a reference to nothing, as any other dangling one
    }
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** The schemas a node stands for as a whole (no value is taken apart to reach them). */
function sameValueEdges(root: unknown, node: Node): unknown[] {
  const out: unknown[] = [];
  if (typeof node.$ref === 'string') out.push(resolve(root, node.$ref));
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(node[k])) out.push(...(node[k] as unknown[]));
  for (const k of ['not', 'if', 'then', 'else'] as const) out.push(node[k]);
  return out.filter(isNode);
}

/**
 * The path (`['$ref']`, `['$defs', 'a', '$ref']`) of a `$ref` in `root` that loops back without `properties` or
 * `items` in between; undefined when there is none.
 */
export function refLoop(root: unknown): (string | number)[] | undefined {
  if (!isNode(root)) return undefined;
  // Every subschema (any object of the tree) with its path, found iteratively.
  const paths = new Map<Node, (string | number)[]>();
  const stack: [unknown, (string | number)[]][] = [[root, []]];
  while (stack.length && paths.size < 100_000) {
    const [value, path] = stack.pop()!;
    if (Array.isArray(value)) value.forEach((v, i) => stack.push([v, [...path, i]]));
    else if (isNode(value) && !paths.has(value)) {
      paths.set(value, path);
      for (const [k, v] of Object.entries(value))
        if (typeof v === 'object' && v !== null) stack.push([v, [...path, k]]);
    }
  }
  // Depth-first over the same-value edges: a node met again while on the current path closes a loop.
  const state = new Map<Node, 'open' | 'done'>();
  for (const start of paths.keys()) {
    if (state.has(start)) continue;
    const walk: { node: Node; next: unknown[] }[] = [{ node: start, next: sameValueEdges(root, start) }];
    state.set(start, 'open');
    while (walk.length) {
      const top = walk[walk.length - 1];
      const next = top.next.pop() as Node | undefined;
      if (next === undefined) {
        state.set(top.node, 'done');
        walk.pop();
        continue;
      }
      const seen = state.get(next);
      if (seen === 'open') {
        const from = paths.get(top.node) ?? [];
        return typeof top.node.$ref === 'string' && resolve(root, top.node.$ref) === next ? [...from, '$ref'] : from;
      }
      if (seen === 'done') continue;
      state.set(next, 'open');
      walk.push({ node: next, next: sameValueEdges(root, next) });
    }
  }
  return undefined;
}
