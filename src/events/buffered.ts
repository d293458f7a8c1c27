/**
 * Decouple a subscriber from the scheduler: events are queued and handed over in batches once per
 * event-loop turn, so a slow subscriber (a pretty printer, a tracer, a network sink) never delays a task.
 */
import type { EventListener } from './bus.js';
import type { RunEvent } from '../core/events.js';

/** An event listener that delivers in batches; `drain` delivers what is queued. @public */
export interface BufferedListener extends EventListener {
  /** Deliver what is queued now (before exit, or at the end of a run). */
  drain(): void;
}

/** Wrap a listener of event batches: events are queued and handed over once per event-loop turn. @public */
export function buffered(listener: (events: readonly RunEvent[]) => void): BufferedListener {
  let queue: RunEvent[] = [];
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    if (!queue.length) return;
    const batch = queue;
    queue = [];
    try {
      listener(batch);
    } catch {
      // a broken subscriber must not break the run
    }
  };
  const onEvent = ((event: RunEvent) => {
    queue.push(event);
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }) as BufferedListener;
  onEvent.drain = drain;
  return onEvent;
}
