/** A task's label (workflow-spec.md §3): from the output, its `label` field, or the classifier, in that order. */
import { describe, expect, it } from 'vitest';
import { BraidError } from '../errors.js';
import type { Classifier, ClassifyRequest } from '../llm/types.js';
import { decideLabel } from './labels.js';
import type { PlanTask } from './plan.js';

function task(expected: string[], extra: string[] = [], prompt?: string): PlanTask {
  return {
    id: 'judge',
    expectedLabels: new Set(expected),
    labelCandidates: [...new Set([...expected, ...extra])],
    spec: { id: 'judge', tool: 't', ...(prompt ? { classify: { labels: extra, prompt } } : {}) },
  } as unknown as PlanTask;
}

function classifier(answer: string): Classifier & { seen: ClassifyRequest[] } {
  const seen: ClassifyRequest[] = [];
  return {
    seen,
    classify: async (req) => {
      seen.push(req);
      return {
        label: answer,
        reason: 'because',
        usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2, costUsd: 0 },
      };
    },
  } as Classifier & { seen: ClassifyRequest[] };
}

const request = { input: { q: 1 }, signal: new AbortController().signal } as never;

describe('decideLabel', () => {
  it('an output that is an expected label is the label (source output); another string is not', async () => {
    expect(await decideLabel(task(['good', 'bad']), 'good', undefined, request)).toEqual({
      label: 'good',
      source: 'output',
    });
    expect(await decideLabel(task([]), 'good', undefined, request)).toBeUndefined();
  });

  it("an object's label field is the label (source field), whatever it says", async () => {
    expect(await decideLabel(task(['good']), { label: 'other', x: 1 }, undefined, request)).toEqual({
      label: 'other',
      source: 'field',
    });
  });

  it('no label needed: undefined, for any output (null, undefined, numbers, lists)', async () => {
    for (const output of [null, undefined, 42, 'text', ['good'], { label: 7 }])
      expect(await decideLabel(task([]), output, undefined, request)).toBeUndefined();
  });

  it('a label is needed but nothing gives one and there is no classifier: E_LABEL, not retryable, naming the task', async () => {
    const err = await decideLabel(task(['good', 'bad']), { text: 'x' }, undefined, request).catch((e) => e);
    expect(err).toBeInstanceOf(BraidError);
    expect(err).toMatchObject({ code: 'E_LABEL', retryable: false, taskId: 'judge' });
    expect(err.message).toBe(
      'task "judge" needs a label (one of good, bad) but its output is not one and no classifier is configured; return a label or { label }, or run with an LLM classifier',
    );
    // null and undefined outputs reach the same error (they have no label field)
    for (const output of [null, undefined])
      await expect(decideLabel(task(['good']), output, undefined, request)).rejects.toMatchObject({ code: 'E_LABEL' });
  });

  it('the classifier sees the output, the candidates, the prompt and the task; its answer and usage are kept', async () => {
    const c = classifier('bad');
    const report = () => {};
    const d = await decideLabel(task(['good'], ['bad'], 'judge it'), 'neither', c, request, report);
    expect(d).toEqual({
      label: 'bad',
      source: 'classifier',
      reason: 'because',
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2, costUsd: 0 },
    });
    expect(c.seen).toEqual([
      {
        ...(request as object),
        output: 'neither',
        labels: ['good', 'bad'],
        prompt: 'judge it',
        taskId: 'judge',
        report,
      },
    ]);
  });

  it('a classifier answer that is not a candidate is E_LABEL, not retryable', async () => {
    const err = await decideLabel(task(['good', 'bad']), 'x', classifier('maybe'), request).catch((e) => e);
    expect(err).toMatchObject({ code: 'E_LABEL', retryable: false, taskId: 'judge' });
    expect(err.message).toBe('classifier answered "maybe" for task "judge", not one of good, bad');
  });
});
