/**
 * A typed builder that produces the same spec objects as a YAML file, so code and file users share one
 * engine: `workflow('demo').task('a', echo, { value: 1 }).task('b', 'sleep', { ms: 5 }, { dependencies: ['a'] })`.
 */
import type { TaskSpec, WorkflowDefaults, WorkflowSpec } from './spec/schema.js';
import type { Tool } from './toolkit/types.js';

/** A tool input where any field may instead be a `{{ template }}` string. */
export type TemplateInput<T> = T extends object
  ? { [K in keyof T]: TemplateInput<T[K]> | `{{${string}}}` }
  : T | `{{${string}}}`;

export type TaskOptions = Omit<TaskSpec, 'id' | 'tool' | 'input'>;

/** Builds a workflow in code, task by task, with its tools; `workflow(name)` starts one. @public */
export class WorkflowBuilder {
  readonly #spec: WorkflowSpec & { name: string };
  readonly #tools = new Map<string, Tool>();

  constructor(
    name: string,
    options: {
      description?: string;
      inputs?: Record<string, unknown>;
      defaults?: WorkflowDefaults;
      confirm?: boolean;
    } = {},
  ) {
    this.#spec = { name, ...options, tasks: [] };
  }

  /** Add a task; pass a tool object to register it with the workflow and type its input. */
  task<I>(id: string, tool: Tool<I>, input: TemplateInput<I>, options?: TaskOptions): this;
  task(id: string, tool: string, input?: unknown, options?: TaskOptions): this;
  task(id: string, tool: string | Tool, input?: unknown, options: TaskOptions = {}): this {
    if (typeof tool !== 'string') this.#tools.set(tool.name, tool);
    const name = typeof tool === 'string' ? tool : tool.name;
    this.#spec.tasks.push({ id, tool: name, ...(input === undefined ? {} : { input }), ...options });
    return this;
  }

  /** Tools passed as objects to `task()`. */
  get tools(): Tool[] {
    return [...this.#tools.values()];
  }

  /** The plain spec object (what a YAML file would hold). */
  build(): WorkflowSpec & { name: string } {
    return structuredClone(this.#spec);
  }
}

/** Start a workflow in code: `workflow('name').task(...)`, exported as a module's default. @public */
export function workflow(name: string, options?: ConstructorParameters<typeof WorkflowBuilder>[1]): WorkflowBuilder {
  return new WorkflowBuilder(name, options);
}
