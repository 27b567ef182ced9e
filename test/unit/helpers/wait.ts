/** Waiting in host tests: `sleep`, and `until` a condition holds (its value), failing with what was awaited. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(
  fn: () => T | undefined | null | false,
  what: string,
  ms = 30000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
