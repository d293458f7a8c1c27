/**
 * A plain JSON object (not null, not an array): the shape of a task input, a run input or a tool output with fields.
 */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
