/** Named tools: built-ins plus the user's; a later registration shadows an earlier one of the same name. */
import { NoSuchToolError } from '../errors.js';
import { isTool, type Tool } from './types.js';

/** The tools of a run, by name. @public */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();

  constructor(tools: Iterable<Tool> = []) {
    for (const t of tools) this.register(t);
  }

  register(tool: Tool): this {
    if (!isTool(tool)) throw new TypeError('a tool needs a string `name` and a `run(input, ctx)` function');
    this.#tools.set(tool.name, tool);
    return this;
  }

  has(name: string): boolean {
    return this.#tools.has(name);
  }

  get(name: string): Tool {
    const tool = this.#tools.get(name);
    if (!tool) throw new NoSuchToolError(name, this.names());
    return tool;
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  list(): Tool[] {
    return [...this.#tools.values()];
  }

  /** A copy without the named tools. */
  without(...names: string[]): ToolRegistry {
    return new ToolRegistry(this.list().filter((t) => !names.includes(t.name)));
  }
}

export type ToolsOption = ToolRegistry | readonly Tool[] | Readonly<Record<string, Tool>>;

/** A registry from any accepted `tools` shape; `base` tools come first and are shadowed by `tools`. */
export function toRegistry(tools: ToolsOption | undefined, base: readonly Tool[] = []): ToolRegistry {
  if (tools instanceof ToolRegistry) return tools;
  const list = tools === undefined ? [] : Array.isArray(tools) ? tools : Object.values(tools as Record<string, Tool>);
  return new ToolRegistry([...base, ...list]);
}
