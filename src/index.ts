/** braid: orchestrate LLM-agent tool calls as conditional, parallel workflows. The public API. */
export {
  runWorkflow,
  resumeRun,
  prepareResume,
  approveTask,
  cancelRecordedRun,
  checkInputLimits,
  INPUT_LIMITS,
  type RunOptions,
  type ResumeOptions,
  type PendingResume,
  type Approval,
} from './engine/run.js';
export { loadWorkflow, type LoadedWorkflow } from './spec/load.js';
export { validateWorkflow, type ValidationResult } from './spec/validate.js';
export { analyzeWorkflow } from './spec/analyze.js';
export { workflow, WorkflowBuilder } from './builder.js';
export { defineTool } from './toolkit/define-tool.js';
export { effectsOf } from './toolkit/effects.js';
export { ToolRegistry } from './toolkit/registry.js';
export { toJSONSchema, toFunctionDefinition } from './toolkit/json-schema.js';
export { loadToolsModule } from './toolkit/load-module.js';
export { builtinTools } from '../tools/index.js';
export { toMermaid } from './graph/mermaid.js';
export { LocalExecutor, type LocalExecutorOptions } from './executors/local.js';
export type {
  AttemptExecutor,
  AttemptRequest,
  AttemptResult,
  AttemptError,
  AttemptHost,
} from './executors/contract.js';
export * from './errors.js';
export type { Tool, ToolContext, Logger, SchemaLike, Effects } from './toolkit/types.js';
export type { Classifier, ClassifyRequest, ClassifyResult } from './engine/labels.js';
export type {
  RunResult,
  TaskResult,
  RunStatus,
  TaskStatus,
  TaskResultStatus,
  AttemptOutcome,
  SkipReason,
} from './core/result.js';
export type { RunEvent, RunEventType, Usage } from './core/events.js';
export type { Workflow } from './spec/workflow.js';
export type { TaskSpec, WorkflowSpec, TriggerRule } from './spec/schema.js';
export type { TriggerSpec, TriggerRef, TriggerKind, OverlapPolicy, CatchupPolicy } from './spec/triggers.js';
export { createClassifier } from './llm/classifier.js';
export { createProvider, generateFromPrompt, track } from './llm/llm.js';
export { OfflineProvider } from './llm/offline.js';
export { OpenAIProvider, type OpenAIProviderOptions } from './llm/openai.js';
export { modelSchema, type ModelSchema } from './llm/model-schema.js';
export type { LlmProvider, ChatMessage, GenerateRequest, GenerateResult, ToolCall, FunctionSpec } from './llm/types.js';
export { JsonlRunStore, parseRunLog } from './store/jsonl/index.js';
export type {
  RunStore,
  RunLog,
  RunRecord,
  RunHeader,
  RunLockHandle,
  FoldedRecord,
  FollowOptions,
} from './store/types.js';
export { RunLockedError, type LockOwner } from './store/run-lock.js';
export { EXPRESSION_LIMITS } from './spec/expression.js';
export { foldRun, RunFolder, type RecordedRun } from './store/fold.js';
export { explainTask } from './store/explain.js';
export { buffered, type BufferedListener } from './events/buffered.js';
export { planWorkflow, PlanError, type PlanOptions, type PlanResult } from './planner/planner.js';
export { WorkflowCatalog, type CatalogEntry } from './service/catalog.js';
export type { ChildRuns } from './toolkit/types.js';
