/** A task's label (workflow-spec.md §3, Labels): from the output, its `label` field, or the classifier. */
import { BraidError } from '../errors.js';
import type { Usage } from '../core/events.js';
import type { Classifier, ClassifyRequest, LlmCallInfo } from '../llm/types.js';

export type { Classifier, ClassifyRequest, ClassifyResult } from '../llm/types.js';
import type { PlanTask } from './plan.js';
import type { LabelSource } from '../core/result.js';

export interface LabelDecision {
  readonly label: string;
  readonly source: LabelSource;
  readonly reason?: string;
  readonly usage?: Usage;
}

export async function decideLabel(
  task: PlanTask,
  output: unknown,
  classifier: Classifier | undefined,
  request: Omit<ClassifyRequest, 'output' | 'labels' | 'prompt' | 'taskId' | 'report'>,
  report?: (info: LlmCallInfo) => void,
): Promise<LabelDecision | undefined> {
  if (typeof output === 'string' && task.expectedLabels.has(output)) return { label: output, source: 'output' };
  const field = output !== null && typeof output === 'object' ? (output as { label?: unknown }).label : undefined;
  if (typeof field === 'string') return { label: field, source: 'field' };
  if (task.labelCandidates.length === 0) return undefined;
  const labels = task.labelCandidates;
  if (!classifier) {
    throw new BraidError(
      'E_LABEL',
      `task "${task.id}" needs a label (one of ${labels.join(', ')}) but its output is not one and no classifier is configured; return a label or { label }, or run with an LLM classifier`,
      { taskId: task.id },
    );
  }
  const answer = await classifier.classify({
    ...request,
    output,
    labels,
    prompt: task.spec.classify?.prompt,
    taskId: task.id,
    report,
  });
  if (!labels.includes(answer.label)) {
    throw new BraidError(
      'E_LABEL',
      `classifier answered "${answer.label}" for task "${task.id}", not one of ${labels.join(', ')}`,
      { taskId: task.id },
    );
  }
  return { label: answer.label, source: 'classifier', reason: answer.reason, usage: answer.usage };
}
