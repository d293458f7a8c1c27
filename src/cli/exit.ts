/**
 * Exit codes (workflow-spec.md §8). An error's exit code comes from its code (`exitCodeOf` in errors.ts: `invalid`
 * codes exit 2, the others 1); `waiting` is braid's extension for approvals (a run status, not an error).
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, waiting: 3 } as const;

export const useColor = (stream: NodeJS.WriteStream = process.stderr) => Boolean(stream.isTTY) && !process.env.NO_COLOR;
