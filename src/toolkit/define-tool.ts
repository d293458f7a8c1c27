import type { z } from 'zod';
import type { Effects, SchemaLike, Tool, ToolContext, ToolLimits, UpstreamMapping } from './types.js';

export interface ToolDefinition<S extends SchemaLike, O> extends ToolLimits {
  readonly name: string;
  readonly description?: string;
  readonly input: S;
  readonly output?: SchemaLike<O>;
  /** How the tool takes upstream outputs when a task's `input` does not name them. @default fields merged by name */
  readonly upstream?: UpstreamMapping;
  run(input: InputOf<S>, ctx: ToolContext): O | Promise<O>;
  /** Run in the run's own process even when attempts go to workers (it needs `ctx.children`). @default false */
  readonly runsInProcess?: boolean;
  /** Called when a run that uses the tool starts: start slow set-up (e.g. a worker process) early. */
  warm?(): void;
  /** What calling it does to the world, or a function of its input (see `Tool.effects`). @default external */
  readonly effects?: Effects | ((input: InputOf<S>) => Effects);
  /** Its version, for the record and cache keys. */
  readonly version?: string;
}

type InputOf<S> = S extends z.ZodType ? z.output<S> : S extends SchemaLike<infer T> ? T : unknown;

/** Declare a tool. Returns its argument, typed: registration and JSON Schema read the same object. @public */
export function defineTool<S extends SchemaLike, O>(definition: ToolDefinition<S, O>): Tool<InputOf<S>, O> {
  return definition as unknown as Tool<InputOf<S>, O>;
}
