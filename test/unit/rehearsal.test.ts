/**
 * A warm start's rehearsal (src/engine/hot.ts): the reads it makes are
 * marked as the rehearsal's at any depth of their async calls, and no
 * other read is; it is bounded; a read that throws does not stop it.
 */
import { describe, expect, it } from "vitest";
import { Rehearsal, rehearse, type WarmedRead } from "../../src/engine/hot.js";

const read = (i: number): WarmedRead => ({ model: "User", operation: "findUnique", args: { where: { id: i } }, cache: undefined });

describe("warm start rehearsal", () => {
  it("marks its reads, through awaits and timers, and no read outside it", async () => {
    const rehearsal = new Rehearsal();
    const seen: boolean[] = [];
    await rehearse(
      [read(1), read(2)],
      async () => {
        seen.push(rehearsal.active());
        await new Promise((r) => setImmediate(r));
        seen.push(rehearsal.active());
        seen.push(await new Promise<boolean>((r) => setTimeout(() => r(rehearsal.active()), 0)));
      },
      rehearsal,
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s)).toBe(true);
    expect(rehearsal.active()).toBe(false);
    // An app read that runs while the rehearsal does, started outside it: not the rehearsal's.
    let appRead: boolean | undefined;
    const app = new Promise<void>((r) =>
      setImmediate(() => {
        appRead = rehearsal.active();
        r();
      }),
    );
    await Promise.all([rehearse([read(1)], () => new Promise((r) => setImmediate(r)), rehearsal), app]);
    expect(appRead).toBe(false);
  });

  it("cycles over the reads loaded, at most 2,000 times, and goes on past a read that throws", async () => {
    const rehearsal = new Rehearsal();
    const ids: number[] = [];
    await rehearse(
      [read(1), read(2), read(3)],
      (r) => {
        const id = (r.args!.where as { id: number }).id;
        ids.push(id);
        if (id === 2) throw new Error("refused");
        return Promise.resolve(undefined);
      },
      rehearsal,
    );
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.length).toBeLessThanOrEqual(2_000);
    expect(ids.slice(0, 6)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it("does nothing without reads", async () => {
    let calls = 0;
    await rehearse([], () => Promise.resolve(calls++), new Rehearsal());
    expect(calls).toBe(0);
  });
});
