/** Exit codes (workflow-spec.md §8) and the error that carries one. `waiting` is braid's extension for approvals. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, waiting: 3 } as const;

export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const useColor = (stream: NodeJS.WriteStream = process.stderr) => Boolean(stream.isTTY) && !process.env.NO_COLOR;
