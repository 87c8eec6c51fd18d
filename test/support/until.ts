/**
 * Waiting for a condition in tests: polled, and bounded by a timeout whose
 * error names what was awaited. Free of vitest, so child processes can use it.
 */

/** Resolves once `check` holds (polled every 20 ms); rejects naming `what` after `ms`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
