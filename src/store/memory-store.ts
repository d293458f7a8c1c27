/**
 * A run store in memory: the same contract as the JSONL store, for tests and short-lived processes
 * (`braid/testing` exports it). Events are kept as they were appended (structured clones, like a record
 * written and read back); one writer per run holds here too.
 */
import { BraidError } from '../errors.js';
import type { RunEvent } from '../core/events.js';
import { RunLockedError } from './run-lock.js';
import type { RunHeader, RunLockHandle, RunLog, RunRecord, RunStore } from './types.js';

interface Entry {
  header: RunHeader;
  events: RunEvent[];
  locked: boolean;
}

/** A run store in memory, for tests. @public */
export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, Entry>();

  async create(header: RunHeader): Promise<RunLog> {
    if (this.#runs.has(header.runId))
      throw new BraidError('E_RUN_STATE', `run "${header.runId}" already exists in this memory store`);
    const entry: Entry = { header: structuredClone(header), events: [], locked: true };
    this.#runs.set(header.runId, entry);
    return this.#log(entry);
  }

  async lock(runId: string): Promise<RunLockHandle> {
    const entry = this.#entry(runId);
    if (entry.locked) throw new RunLockedError(runId, undefined);
    entry.locked = true;
    return { runId, release: () => void (entry.locked = false) };
  }

  async reopen(runId: string, lock?: RunLockHandle): Promise<RunLog> {
    const entry = this.#entry(runId);
    if (!lock) await this.lock(runId);
    return this.#log(entry);
  }

  async read(runId: string): Promise<RunRecord> {
    const entry = this.#entry(runId);
    return { header: structuredClone(entry.header), events: entry.events.map((e) => structuredClone(e)), problems: [] };
  }

  async list(): Promise<string[]> {
    return [...this.#runs.keys()].sort().reverse();
  }

  #entry(runId: string): Entry {
    const entry = this.#runs.get(runId);
    if (!entry) throw new BraidError('E_RUN_NOT_FOUND', `no run "${runId}" in this memory store`);
    return entry;
  }

  #log(entry: Entry): RunLog {
    let open = true;
    return {
      append: (event) => void (open && entry.events.push(structuredClone(event))),
      flush: async () => {},
      flushSync: () => {},
      close: async () => {
        open = false;
        entry.locked = false;
      },
    };
  }
}
