import { describe, expect, it } from "vitest";
import { type L1Entry, LocalGenerations, MemoryTier } from "../../src/tiers/memory.js";

describe("LocalGenerations", () => {
  it("makes recorded generations stale on a bump, and leaves other dependencies alone", () => {
    const g = new LocalGenerations();
    const snap = g.snapshot(["a", "b"]);
    expect(g.matches(["a", "b"], snap)).toBe(true);
    g.bump(["b"]);
    expect(g.matches(["a", "b"], snap)).toBe(false);
    expect(g.matches(["a"], g.snapshot(["a"]))).toBe(true);
  });

  it("stays bounded: past its limit it forgets everything, and no earlier snapshot matches again", () => {
    const g = new LocalGenerations(3);
    const untouched = g.snapshot(["never-bumped"]);
    const bumpedOnce = (() => {
      g.bump(["x"]);
      return g.snapshot(["x"]);
    })();
    g.bump(["y"]);
    g.bump(["z"]);
    g.bump(["w"]); // over the limit: reset
    expect(g.matches(["never-bumped"], untouched)).toBe(false);
    expect(g.matches(["x"], bumpedOnce)).toBe(false);
    // After the reset it works as before.
    const s = g.snapshot(["x", "y"]);
    g.bump(["y"]);
    expect(g.matches(["x"], [s[0]!])).toBe(true);
    expect(g.matches(["x", "y"], s)).toBe(false);
  });
});

describe("LocalGenerations.current", () => {
  /** An L1 entry as the fill stores it: generations and clock taken at once. */
  const entryOf = (g: LocalGenerations, deps: string[]): L1Entry & { gens: number[] } => {
    const timing = { freshUntil: Date.now() + 60_000, staleUntil: Date.now() + 60_000, keepUntil: Date.now() + 60_000, delta: 1 };
    return { value: null, deps, gens: g.snapshot(deps), timing, checkUntil: timing.freshUntil, size: 1, seen: g.clock };
  };

  it("is current at once while the clock did not move, without checking each dependency", () => {
    const g = new LocalGenerations();
    g.bump(["a"]);
    const e = entryOf(g, ["a", "b"]);
    expect(g.current(e)).toBe(true);
    // Generations that no longer match are not even looked at while nothing was bumped.
    e.gens[0] = -1;
    expect(g.current(e)).toBe(true);
  });

  it("after a bump of another dependency, is re-checked once, found current, and remembered at the new clock", () => {
    const g = new LocalGenerations();
    const e = entryOf(g, ["a", "b"]);
    g.bump(["c"]);
    expect(e.seen).not.toBe(g.clock);
    expect(g.current(e)).toBe(true);
    expect(e.seen).toBe(g.clock);
    // Remembered: the next call at this clock does not check again.
    e.gens[1] = -1;
    expect(g.current(e)).toBe(true);
  });

  it("after a bump of its own dependency, is not current, and is not remembered as current", () => {
    const g = new LocalGenerations();
    const e = entryOf(g, ["a", "b"]);
    const seen = e.seen;
    g.bump(["b"]);
    expect(g.current(e)).toBe(false);
    expect(e.seen).toBe(seen);
    expect(g.current(e)).toBe(false);
    // A later bump of something else does not make it current again.
    g.bump(["c"]);
    expect(g.current(e)).toBe(false);
  });

  it("an entry stored through the memory tier at the current clock is current until its own dependency moves", () => {
    const g = new LocalGenerations();
    const tier = new MemoryTier({ max: 10, maxBytes: 1_000_000, ttl: 60 });
    const now = Date.now();
    const timing = { freshUntil: now + 60_000, staleUntil: now + 60_000, keepUntil: now + 60_000, delta: 1 };
    tier.set("k", { value: 1, deps: ["r:User:[#1]", "s:User"], gens: g.snapshot(["r:User:[#1]", "s:User"]), timing, size: 1 }, now, g.clock);
    const e = tier.get("k")!;
    expect(g.current(e)).toBe(true);
    g.bump(["r:User:[#2]"]);
    expect(g.current(e)).toBe(true);
    g.bump(["s:User"]);
    expect(g.current(e)).toBe(false);
  });
});
