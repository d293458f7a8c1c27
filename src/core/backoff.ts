/** Waiting between tries: exponential backoff with jitter, and a sleep that an abort ends early. */
export interface RetryOptions {
  /** Delay before the first retry. @default 200 */
  readonly baseDelayMs?: number;
  /** Upper bound on any delay. @default 10000 */
  readonly maxDelayMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half of `base * 2^(retry-1)` fixed, half random, capped.
 * @param retry 1 for the first retry
 */
export function backoffDelay(retry: number, options: RetryOptions = {}, random: () => number = Math.random): number {
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 10_000;
  const exp = Math.min(max, base * 2 ** (retry - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
