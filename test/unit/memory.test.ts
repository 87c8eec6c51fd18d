import { describe, expect, it } from "vitest";
import { LocalGenerations } from "../../src/tiers/memory.js";

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
