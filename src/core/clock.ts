/** ISO timestamps, formatted at most once per millisecond (events come in bursts within one ms). */
let lastMs = 0;
let lastIso = '';

export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
