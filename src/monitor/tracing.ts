/**
 * OpenTelemetry spans from the event stream: run → task (one span per visit) → attempt → LLM call, the model
 * calls with the GenAI semantic conventions (`gen_ai.*`). Off unless you pass a tracer: register any OTel
 * SDK and exporter in your process, then `runWorkflow(flow, { onEvent: otelListener(trace.getTracer('braid')) })`.
 * Times come from the events, so buffering the listener costs no accuracy.
 */
import { SpanKind, SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { buffered, type BufferedListener } from '../events/buffered.js';
import type { RunEvent } from '../core/events.js';

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

  const handle = (e: RunEvent) => {
    const key = 'taskId' in e && e.taskId ? `${e.runId}/${e.taskId}` : '';
    const run = runs.get(e.runId);
    switch (e.type) {
      case 'run.started':
      case 'run.resumed':
        runs.set(
          e.runId,
          start(`braid.run ${e.type === 'run.started' ? e.workflow : 'resumed'}`, e.ts, undefined, {
            'braid.run.id': e.runId,
            ...(e.type === 'run.started'
              ? { 'braid.workflow': e.workflow, 'braid.tasks': e.tasks }
              : { 'braid.resumed': true }),
          }),
        );
        break;
      case 'run.finished':
        run?.setAttribute('braid.run.status', e.status);
        end(run, e.ts, e.status === 'failed' ? (e.error ?? { message: 'run failed' }) : undefined);
        runs.delete(e.runId);
        break;
      case 'task.ready':
        end(tasks.get(key), e.ts);
        tasks.set(
          key,
          start(`braid.task ${e.taskId}`, e.ts, run, { 'braid.task.id': e.taskId, 'braid.task.visit': e.visit }),
        );
        break;
      case 'task.started':
        attempts.set(
          key,
          start(`braid.attempt ${e.tool}`, e.ts, tasks.get(key) ?? run, {
            'braid.tool': e.tool,
            'braid.attempt': e.attempt,
          }),
        );
        break;
      case 'task.retrying':
        end(attempts.get(key), e.ts, e.error);
        attempts.delete(key);
        break;
      case 'task.labeled':
        tasks.get(key)?.setAttributes({ 'braid.task.label': e.label, 'braid.task.label_source': e.source });
        break;
      case 'task.succeeded':
      case 'task.failed':
      case 'task.skipped': {
        const error = e.type === 'task.failed' ? e.error : undefined;
        end(attempts.get(key), e.ts, error);
        attempts.delete(key);
        // A task skipped without being entered gets an instant span, so the trace shows why it did not run.
        const span = tasks.get(key) ?? start(`braid.task ${e.taskId}`, e.ts, run, { 'braid.task.id': e.taskId });
        span.setAttribute('braid.task.status', e.type.slice('task.'.length));
        if (e.type === 'task.skipped') span.setAttribute('braid.task.skip_reason', e.reason);
        if (e.type === 'task.succeeded' && e.replayed) span.setAttribute('braid.task.replayed', true);
        end(span, e.ts, error);
        tasks.delete(key);
        break;
      }
      case 'task.waiting':
        tasks.get(key)?.setAttribute('braid.task.status', 'waiting');
        end(tasks.get(key), e.ts);
        tasks.delete(key);
        break;
      case 'llm.call': {
        const ended = time(e.ts);
        const span = start(
          `chat ${e.model}`,
          new Date(ended.getTime() - e.latencyMs),
          attempts.get(key) ?? tasks.get(key) ?? run,
          {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': e.provider,
            'gen_ai.system': e.provider,
            'gen_ai.request.model': e.model,
            'gen_ai.usage.input_tokens': e.usage.promptTokens,
            'gen_ai.usage.output_tokens': e.usage.completionTokens,
            'braid.llm.purpose': e.purpose,
            ...(e.usage.costUsd === null ? {} : { 'braid.llm.cost_usd': e.usage.costUsd }),
          },
          SpanKind.CLIENT,
        );
        end(span, e.ts, e.error);
        break;
      }
    }
  };
  return buffered((events) => events.forEach(handle));
}
