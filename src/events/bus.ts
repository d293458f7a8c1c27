/** One emitter per run: stamps `seq`, `ts`, `runId` and hands each event to every subscriber. */
import { isoNow } from '../core/clock.js';
import type { RunEvent, RunEventBody } from '../core/events.js';

export type EventListener = (event: RunEvent) => void;

export class EventBus {
  readonly #listeners: EventListener[] = [];
  #seq = 0;

  /** `fromSeq`: the last number already used (a resumed run continues its record's numbering). */
  constructor(
    readonly runId: string,
    listeners: readonly EventListener[] = [],
    fromSeq = 0,
  ) {
    this.#listeners.push(...listeners);
    this.#seq = fromSeq;
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  emit(body: RunEventBody): RunEvent {
    const event = { seq: ++this.#seq, ts: isoNow(), runId: this.runId, ...body } as RunEvent;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not break the run; subscribers report their own errors.
      }
    }
    return event;
  }
}
