/**
 * How built-in tools take their upstreams' outputs when a task gives no `input` (workflow-spec.md §5a).
 * Each mapping says in words what it takes (`braid tools` prints it) and which fields it can fill (for
 * `braid validate`). Tools without one merge upstream output fields by name.
 */
import type { Sourced, UpstreamMapping, UpstreamOutput } from '../src/toolkit/types.js';

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const record = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const may = (fields: ReadonlySet<string> | undefined, ...names: string[]) =>
  fields === undefined || names.every((n) => fields.has(n));

/** `summarize_results`: every upstream output, keyed by task id, as `results`. */
export const allOutputsAsResults: UpstreamMapping = {
  description: 'results: every upstream output that ran, keyed by task id',
  provides: (ups) => (ups.length ? ['results'] : []),
  take(ups): Record<string, Sourced> {
    if (!ups.length) return {};
    const results: Record<string, unknown> = {};
    for (const u of ups) results[u.taskId] = u.output;
    return { results: { value: results, from: ups.map((u) => `tasks.${u.taskId}.output`).join(' + ') } };
  },
};

/** `send_email`: a draft's subject and body, or an email built from an idea (its pitch as the subject). */
export const draftOrIdea: UpstreamMapping = {
  description:
    "subject and body from a draft (an output with subject and body), or built from an idea (idea, pitch); `to` comes from the run input or the task's input",
  provides: (ups) => (ups.some((f) => may(f, 'subject', 'body') || may(f, 'idea')) ? ['subject', 'body'] : []),
  take(ups) {
    let taken: Record<string, Sourced> = {};
    for (const u of ups) {
      const o = record(u.output);
      if (!o) continue;
      const at = (f: string) => `tasks.${u.taskId}.output.${f}`;
      if (str(o.subject) && str(o.body))
        taken = { subject: { value: o.subject, from: at('subject') }, body: { value: o.body, from: at('body') } };
      else if (str(o.idea)) {
        const subject = str(o.pitch)
          ? o.pitch
          : `An idea: ${o.idea.length > 60 ? `${o.idea.slice(0, 57)}...` : o.idea}`;
        const body = str(o.pitch) ? `${o.idea}\n\n${o.pitch}` : o.idea;
        taken = {
          subject: { value: subject, from: at(str(o.pitch) ? 'pitch' : 'idea') },
          body: { value: body, from: at('idea') },
        };
      }
    }
    return taken;
  },
};

/** `retry_generate_idea`: the earlier idea and the judge's reason for its label as feedback. */
export const ideaWithFeedback: UpstreamMapping = {
  description:
    "idea from an upstream's idea, feedback from the reason its label was given (the judge's reason), other fields by name",
  provides: (ups) => (ups.some((f) => may(f, 'idea')) ? ['idea', 'feedback'] : []),
  take(ups: readonly UpstreamOutput[]) {
    const taken: Record<string, Sourced> = {};
    for (const u of ups) {
      const o = record(u.output);
      if (!o) continue;
      for (const f of ['topic', 'audience'] as const)
        if (str(o[f])) taken[f] = { value: o[f], from: `tasks.${u.taskId}.output.${f}` };
      if (str(o.idea)) {
        taken.idea = { value: o.idea, from: `tasks.${u.taskId}.output.idea` };
        if (str(u.labelReason)) taken.feedback = { value: u.labelReason, from: `tasks.${u.taskId}.labelReason` };
      }
    }
    return taken;
  },
};
