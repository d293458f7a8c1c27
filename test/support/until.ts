/** Waits until `get` gives something truthy (checked every `everyMs`), or fails after `ms` saying so. */
export async function until<T>(
  get: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 10_000,
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
