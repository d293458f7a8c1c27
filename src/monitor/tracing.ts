/**
 * OpenTelemetry spans from the event stream: run → task (one span per visit) → attempt → LLM call, the model
 * calls with the GenAI semantic conventions (`gen_ai.*`). Off unless you pass a tracer: register any OTel
 * SDK and exporter in your process, then `runWorkflow(flow, { onEvent: otelListener(trace.getTracer('braid')) })`.
 * Times come from the events, so buffering the listener costs no accuracy.
 */
import { SpanKind, SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { buffered, type BufferedListener } from '../events/buffered.js';
import type { RunEvent } from '../core/events.js';
import { descriptorOf, type SpanLevel } from '../core/event-table.js';

const time = (ts: string) => new Date(ts);

/** An `onEvent` listener that turns runs and tasks into OpenTelemetry spans of `tracer`. @public */
export function otelListener(tracer: Tracer): BufferedListener {
  const runs = new Map<string, Span>();
  const tasks = new Map<string, Span>();
  const attempts = new Map<string, Span>();
  const start = (
    name: string,
    ts: string | Date,
    parent: Span | undefined,
    attributes: Record<string, string | number | boolean>,
    kind = SpanKind.INTERNAL,
  ) =>
    tracer.startSpan(
      name,
      { startTime: typeof ts === 'string' ? time(ts) : ts, attributes, kind },
      parent ? trace.setSpan(context.active(), parent) : undefined,
    );
  const end = (span: Span | undefined, ts: string, error?: { message: string; code?: string }) => {
    if (!span) return;
    if (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.setAttribute('error.type', error.code ?? 'Error');
    }
    span.end(time(ts));
  };

  /** The open spans of each level: the run's by run id, a task visit's and an attempt's by `runId/taskId`. */
  const open: Record<SpanLevel, Map<string, Span>> = { run: runs, task: tasks, attempt: attempts };
  const handle = (e: RunEvent) => {
    const key = 'taskId' in e && e.taskId ? `${e.runId}/${e.taskId}` : '';
    const keyOf = (level: SpanLevel) => (level === 'run' ? e.runId : key);
    const parentOf = (level: SpanLevel) =>
      level === 'run' ? undefined : level === 'task' ? runs.get(e.runId) : (tasks.get(key) ?? runs.get(e.runId));
    for (const step of descriptorOf(e)?.trace(e) ?? []) {
      if (step.op === 'open') {
        open[step.level].set(keyOf(step.level), start(step.name, e.ts, parentOf(step.level), step.attributes));
      } else if (step.op === 'close') {
        const map = open[step.level];
        const span =
          map.get(keyOf(step.level)) ??
          (step.instant && start(step.instant.name, e.ts, parentOf(step.level), step.instant.attributes));
        if (span && step.attributes) span.setAttributes(step.attributes);
        end(span, e.ts, step.error);
        map.delete(keyOf(step.level));
      } else if (step.op === 'annotate') open[step.level].get(keyOf(step.level))?.setAttributes(step.attributes);
      else {
        const ended = time(e.ts);
        const parent = attempts.get(key) ?? tasks.get(key) ?? runs.get(e.runId);
        const span = start(
          step.name,
          new Date(ended.getTime() - step.latencyMs),
          parent,
          step.attributes,
          SpanKind.CLIENT,
        );
        end(span, e.ts, step.error);
      }
    }
  };
  return buffered((events) => events.forEach(handle));
}
