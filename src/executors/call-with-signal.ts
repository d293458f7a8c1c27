/** One attempt of a tool call: timeout and cancellation through AbortSignal. */
import { CancelledError, TaskTimeoutError } from '../errors.js';

/** Rejecters of the attempts in flight, so one run-level abort listener can fail them all. */
export type CancelSet = Set<(err: Error) => void>;

/**
 * Call `fn` with a signal that aborts on `timeoutMs` or run cancellation. Rejects at that moment even if
 * `fn` ignores its signal, so one stuck tool cannot hold the run. Without a timeout the run's own signal
 * is passed through: no per-attempt AbortController or listener (they dominate no-op task overhead).
 */
export function callWithSignal<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  runSignal: AbortSignal,
  inflight: CancelSet,
  timeoutMs?: number,
  taskId?: string,
): Promise<T> {
  if (runSignal.aborted) return Promise.reject(new CancelledError(taskId));
  const controller = timeoutMs === undefined ? undefined : new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      inflight.delete(onCancel);
    };
    const onCancel = (err: Error) => {
      finish();
      controller?.abort(err);
      reject(err);
    };
    inflight.add(onCancel);
    if (controller) timer = setTimeout(() => timedOut(), timeoutMs);
    // A tool that blocks the event loop (sync or CPU-bound code) keeps the timer from firing: its late
    // answer is a timeout all the same.
    const start = controller ? performance.now() : 0;
    const late = () => controller !== undefined && performance.now() - start >= timeoutMs!;
    const timedOut = () => {
      finish();
      const err = new TaskTimeoutError(timeoutMs!, taskId);
      controller!.abort(err);
      reject(err);
    };
    let result: Promise<T> | T;
    try {
      result = fn(controller?.signal ?? runSignal);
    } catch (err) {
      if (late()) return timedOut();
      finish();
      return reject(err);
    }
    Promise.resolve(result).then(
      (v) => {
        if (late()) return timedOut();
        finish();
        resolve(v);
      },
      (e) => {
        finish();
        reject(e);
      },
    );
  });
}
