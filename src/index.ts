/** braid: orchestrate LLM-agent tool calls as conditional, parallel workflows. The public API. */
export { runWorkflow, type RunOptions } from './engine/run.js';
export { loadWorkflow, type LoadedWorkflow } from './spec/load.js';
export { validateWorkflow, type ValidationResult } from './spec/validate.js';
export { workflow, WorkflowBuilder } from './builder.js';
export { defineTool } from './tools/define-tool.js';
export { ToolRegistry } from './tools/registry.js';
export { toJSONSchema, toFunctionDefinition } from './tools/json-schema.js';
export { loadToolsModule } from './tools/load-module.js';
export { builtinTools } from './tools/builtins.js';
export { toMermaid } from './graph/mermaid.js';
export { LocalExecutor, type Executor } from './engine/executor.js';
export * from './errors.js';
export type { Tool, ToolContext, Logger, SchemaLike } from './tools/types.js';
export type { Classifier, ClassifyRequest, ClassifyResult } from './engine/labels.js';
export type { RunResult, TaskResult, RunStatus, TaskStatus, SkipReason } from './engine/result.js';
export type { RunEvent, RunEventType, Usage } from './events/types.js';
export type { Workflow } from './spec/workflow.js';
export type { TaskSpec, WorkflowSpec, TriggerRule } from './spec/schema.js';
