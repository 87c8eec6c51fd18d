import { describe, expect, it } from "vitest";
import { BumpOp, planBump } from "../../src/tiers/versions";

const { bumpOnly, mark, release, releaseAndMark } = BumpOp;

describe("planBump: the counters and ops of one bump script", () => {
  it.each([
    { name: "a mark alone", released: [], deps: ["a", "b"], op: mark, bumped: ["a", "b"], ops: "mm" },
    { name: "a bump alone", released: [], deps: ["a"], op: bumpOnly, bumped: ["a"], ops: "-" },
    { name: "a release carried with a mark of the same counters", released: ["a", "b"], deps: ["a", "b"], op: mark, bumped: ["a", "b"], ops: "xx" },
    { name: "a release carried with a mark of other counters", released: ["a"], deps: ["b"], op: mark, bumped: ["a", "b"], ops: "rm" },
    { name: "two releases of one counter, then its mark", released: ["a", "a"], deps: ["a"], op: mark, bumped: ["a", "a"], ops: "xr" },
    { name: "releases waiting, then a release", released: ["a"], deps: ["a", "b"], op: release, bumped: ["a", "b", "a"], ops: "rrr" },
    { name: "the releases waiting, on their own", released: ["a", "b"], deps: [], op: release, bumped: ["a", "b"], ops: "rr" },
  ])("$name", ({ released, deps, op, bumped, ops }) => {
    const plan = planBump(released, deps, op);
    expect(plan).toEqual({ bumped, ops });
    expect(plan.ops).toHaveLength(plan.bumped.length);
  });

  it("releases every mark it was given and marks every dependency once", () => {
    const released = ["a", "b", "a", "c"];
    const deps = ["a", "d"];
    const { bumped, ops } = planBump(released, deps, mark);
    const releases = new Map<string, number>();
    const marks = new Map<string, number>();
    bumped.forEach((d, i) => {
      const o = ops[i];
      if (o === release || o === releaseAndMark) releases.set(d, (releases.get(d) ?? 0) + 1);
      if (o === mark || o === releaseAndMark) marks.set(d, (marks.get(d) ?? 0) + 1);
    });
    expect(Object.fromEntries(releases)).toEqual({ a: 2, b: 1, c: 1 });
    expect(Object.fromEntries(marks)).toEqual({ a: 1, d: 1 });
  });
});
