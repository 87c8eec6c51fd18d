/**
 * Command deadlines: a blocked event loop does not count against a command.
 */
import { describe, expect, it } from "vitest";
import { Deadlines } from "../../src/tiers/commands";

/** Blocks the event loop for `ms` (what an embedded database or a long synchronous task does). */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describe("Deadlines", () => {
  it("expires a command that outlives its timeout", async () => {
    const d = new Deadlines(30);
    let expired = false;
    d.add(() => (expired = true));
    await new Promise((r) => setTimeout(r, 120));
    expect(expired).toBe(true);
  });

  it("does not count time the process was blocked: a reply right after the stall wins", async () => {
    const d = new Deadlines(50);
    let expired = false;
    const entry = d.add(() => (expired = true));
    block(250);
    // The reply comes 10 ms after the loop runs again: well within the timeout once the stall is set aside.
    const settled = await new Promise<boolean>((resolve) => setTimeout(() => resolve(d.done(entry)), 10));
    expect(settled).toBe(true);
    expect(expired).toBe(false);
  });
});
