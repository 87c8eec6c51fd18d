/**
 * The audit's rate bound (src/audit.ts, RateWindow): at most `perSecond`
 * starts in any sliding second, with no burst past it after an idle time,
 * a fractional rate spread out, and a high rate bounded over a shorter
 * window. Pure logic: times are passed in.
 */
import { describe, expect, it } from "vitest";
import { RateWindow } from "../../src/audit.js";

/** Starts whatever the window allows at each tick of `stepMs` from 0 to `untilMs`; returns the start times. */
function drive(w: RateWindow, stepMs: number, untilMs: number): number[] {
  const starts: number[] = [];
  for (let now = 0; now <= untilMs; now += stepMs) {
    while (w.allows(now)) {
      w.take(now);
      starts.push(now);
    }
  }
  return starts;
}

/** The most starts in any window of `windowMs` ending at a start. */
function mostInAnyWindow(starts: readonly number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i]! - starts[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("audit rate window", () => {
  it("allows at most perSecond starts in any second, however they are asked for", () => {
    const starts = drive(new RateWindow(10), 1, 10_000);
    expect(mostInAnyWindow(starts, 1000)).toBe(10);
    // The rate over the run: 10 in each of its 10 s, plus the 10 of the start of the 11th (at 10,000 ms).
    expect(starts.length).toBe(110);
  });

  it("gives no second burst after an idle time: a token bucket would allow twice the rate across its refill", () => {
    const w = new RateWindow(5);
    for (let i = 0; i < 5; i++) w.take(900 + i);
    // 1 s after the first of them, room again, but never more than 5 in the second that ends at 1,899 ms.
    expect(w.allows(1_899)).toBe(false);
    expect(w.allows(1_900)).toBe(true);
    const later = drive(w, 1, 5_000).filter((t) => t >= 1_000);
    expect(mostInAnyWindow([900, 901, 902, 903, 904, ...later], 1000)).toBe(5);
  });

  it("spreads a fractional rate: 0.5 is one start in any 2 s", () => {
    const starts = drive(new RateWindow(0.5), 10, 10_000);
    expect(starts).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000]);
  });

  it("bounds a rate past 1,024 per second over a shorter window", () => {
    const starts = drive(new RateWindow(10_000), 1, 1_000);
    expect(mostInAnyWindow(starts, 1000)).toBeLessThanOrEqual(10_000 + 1024);
    expect(starts.length).toBeGreaterThanOrEqual(10_000);
  });

  it("refuses a rate that is not a finite number above 0", () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new RateWindow(bad)).toThrow(/perSecond must be a finite number > 0/);
  });
});
