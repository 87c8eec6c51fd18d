import { describe, expect, it } from "vitest";
import { KeyMemo } from "../../src/engine/key-memo.js";
import { canonicalize } from "../../src/keys.js";
import { DbNull, Decimal, skip } from "@prisma/client/runtime/client";
import { mulberry32 } from "../support/prng.js";

/** What the planner does with a memo: the key remembered for these args, or the canonical one (remembered). */
function keyThrough(memo: KeyMemo, args: unknown): string {
  const build = () => `User|findMany|${canonicalize(args ?? {})}`;
  const hash = memo.hash(args);
  if (hash === -1) return build();
  const known = memo.get(hash, args);
  if (known !== undefined) return known;
  const key = build();
  memo.remember(hash, args, key);
  return key;
}

/** Random query-like args from a small vocabulary, so that equal and near-equal shapes repeat. */
function randomArgs(rand: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (depth > 3 || r < 0.45) {
    return pick<unknown>([
      0,
      -0,
      1,
      2,
      1.5,
      -1,
      NaN,
      Infinity,
      "1",
      "a",
      "",
      "é",
      true,
      false,
      null,
      undefined,
      new Date(0),
      new Date(1),
      new Date(NaN),
      2 ** 31,
      -(2 ** 31) - 1,
    ]);
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 3) }, () => randomArgs(rand, depth + 1));
  const o: Record<string, unknown> = {};
  const keys = ["where", "id", "in", "email", "select", "a", "b"];
  for (let i = Math.floor(rand() * 3); i > 0; i--) o[pick(keys)] = randomArgs(rand, depth + 1);
  return o;
}

describe("KeyMemo", () => {
  it("gives the canonical key of every argument, remembered or not (randomized, seeded)", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = mulberry32(seed);
      const memo = new KeyMemo();
      for (let i = 0; i < 4000; i++) {
        const args = randomArgs(rand);
        expect(keyThrough(memo, args), `seed ${seed}, call ${i}`).toBe(`User|findMany|${canonicalize(args ?? {})}`);
      }
    }
  });

  it("answers remembered arguments again, from a fresh object of the same shape", () => {
    const memo = new KeyMemo();
    const key = keyThrough(memo, { where: { id: 7 } });
    const hash = memo.hash({ where: { id: 7 } });
    expect(memo.get(hash, { where: { id: 7 } })).toBe(key);
  });

  it("never answers for other arguments that share a hash", () => {
    const memo = new KeyMemo();
    const hash = memo.hash({ where: { id: 1 } });
    memo.remember(hash, { where: { id: 1 } }, "key-of-id-1");
    // As if a collision: the same hash, other arguments.
    for (const other of [
      { where: { id: 2 } },
      { where: { id: "1" } },
      { where: { id: 1, tenantId: 2 } },
      { where: {} },
      { where: [1] },
      { where: { id: new Date(1) } },
    ]) {
      expect(memo.get(hash, other)).toBeUndefined();
    }
    expect(memo.get(hash, { where: { id: 1 } })).toBe("key-of-id-1");
  });

  it("tells apart values the canonical form tells apart", () => {
    const memo = new KeyMemo();
    const pairs: [unknown, unknown][] = [
      [1, "1"],
      [true, "t"],
      [null, undefined],
      [new Date(5), 5],
      [new Date(5), new Date(5).toISOString()],
      [
        [1, 2],
        [2, 1],
      ],
      [[1], [[1]]],
      [{ a: 1 }, { a: 1, b: 1 }],
      [{ a: { b: 1 } }, { a: { b: 2 } }],
    ];
    for (const [a, b] of pairs) {
      const ka = keyThrough(memo, { where: a });
      const kb = keyThrough(memo, { where: b });
      expect(ka === kb, `${String(a)} vs ${String(b)}`).toBe(canonicalize({ where: a }) === canonicalize({ where: b }));
    }
  });

  it("keeps its own snapshot: mutating the arguments afterwards does not change what they are remembered as", () => {
    const memo = new KeyMemo();
    const args = { where: { id: 1, in: [1, 2] } };
    const key = keyThrough(memo, args);
    args.where.id = 2;
    args.where.in.push(3);
    expect(keyThrough(memo, args)).toBe(`User|findMany|${canonicalize(args)}`);
    expect(keyThrough(memo, { where: { id: 1, in: [1, 2] } })).toBe(key);
  });

  it("keys the general way what it does not take: Decimal, bytes, Prisma.skip, enum objects, class instances, functions, cycles, deep nesting", () => {
    const memo = new KeyMemo();
    class Point {
      constructor(readonly x: number) {}
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    for (const v of [new Decimal("1.5"), new Uint8Array([1]), skip, DbNull, new Point(1), () => 1, Symbol("s"), 1n, cyclic, deep, { toJSON: () => 1 }]) {
      expect(memo.hash({ where: { v } })).toBe(-1);
    }
    expect(memo.hash(Object.create(null))).toBe(-1);
  });

  it("does not take arguments that inherit enumerable keys (a polluted prototype)", () => {
    const memo = new KeyMemo();
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 1;
    try {
      expect(memo.hash({ where: { id: 1 } })).toBe(-1);
    } finally {
      delete proto.polluted;
    }
    expect(memo.hash({ where: { id: 1 } })).not.toBe(-1);
  });

  it("stays bounded: it starts over after 1024 argument sets, and still answers correctly", () => {
    const memo = new KeyMemo();
    for (let i = 0; i < 3000; i++) expect(keyThrough(memo, { where: { id: i } })).toBe(`User|findMany|${canonicalize({ where: { id: i } })}`);
    const hash = memo.hash({ where: { id: 0 } });
    expect(memo.get(hash, { where: { id: 0 } })).toBeUndefined();
    expect(memo.get(memo.hash({ where: { id: 2999 } }), { where: { id: 2999 } })).toBeDefined();
  });
});
