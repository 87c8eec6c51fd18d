/**
 * A warm start's rehearsal (src/engine/hot.ts): each read it makes is
 * marked as the rehearsal's while it starts, and no other read is; it is
 * bounded; a read that throws does not stop it.
 */
import { describe, expect, it } from "vitest";
import { Rehearsal, rehearse, type WarmedRead } from "../../src/engine/hot.js";

const read = (i: number): WarmedRead => ({ model: "User", operation: "findUnique", args: { where: { id: i } }, cache: undefined });

describe("warm start rehearsal", () => {
  it("marks each read while it starts (its then() runs at once), and no read outside that", async () => {
    const rehearsal = new Rehearsal();
    const seen: Array<[boolean, boolean]> = [];
    const later: boolean[] = [];
    // A lazy read as the client returns it: it starts when then() is called.
    const lazy = (): PromiseLike<undefined> => {
      const called = rehearsal.active();
      return {
        then(onfulfilled, onrejected) {
          seen.push([called, rehearsal.active()]);
          return new Promise<boolean>((r) => setImmediate(() => r(rehearsal.active())))
            .then((active) => void later.push(active))
            .then(() => undefined)
            .then(onfulfilled, onrejected);
        },
      };
    };
    await rehearse([read(1), read(2)], lazy, rehearsal);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.every(([called, started]) => called && started)).toBe(true);
    // Past its start, a read is not the rehearsal's; nor is an app read running meanwhile.
    expect(later.length).toBe(seen.length);
    expect(later.some((a) => a)).toBe(false);
    expect(rehearsal.active()).toBe(false);
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
