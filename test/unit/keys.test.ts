import { AnyNull, DbNull, Decimal, JsonNull, skip } from "@prisma/client/runtime/client";
import { loadForeignRuntime } from "../support/foreign-runtime.js";
import { describe, expect, it } from "vitest";
import { canonicalize, hashKey, KEY_HASH_BITS, type KeyParts } from "../../src/keys.js";

const foreign = loadForeignRuntime();
/** Same shape as Prisma's (minified) Skip class, from "another copy" of the runtime. */
class ForeignSkip {
  ifUndefined<T>(value: T | undefined): T | ForeignSkip {
    return value === undefined ? this : value;
  }
}

const base: KeyParts = { namespace: "ptc", version: 1, model: "Post", operation: "findMany", args: { where: { id: 1 } } };
const key = (over: Partial<KeyParts> = {}): string => hashKey({ ...base, ...over });

describe("canonicalize", () => {
  it("ignores object key order at every depth", () => {
    const a = { where: { AND: [{ title: { contains: "x", mode: "insensitive" } }], id: 1 }, include: { author: { select: { id: true, name: true } } } };
    const b = { include: { author: { select: { name: true, id: true } } }, where: { id: 1, AND: [{ title: { mode: "insensitive", contains: "x" } }] } };
    expect(canonicalize(a)).toBe(canonicalize(b));
  });

  it("gives distinct forms to values of distinct types", () => {
    const date = new Date("2026-01-01T00:00:00.000Z");
    const values: unknown[] = [
      1,
      "1",
      1n,
      new Decimal("1"),
      true,
      "true",
      null,
      "null",
      date,
      date.toISOString(),
      date.getTime(),
      new Uint8Array([1]),
      [1],
      { 0: 1 },
      DbNull,
      JsonNull,
      AnyNull,
      "DbNull",
      undefined,
      "",
      [],
      {},
    ];
    const forms = values.map((v) => canonicalize(v));
    expect(new Set(forms).size).toBe(values.length);
  });

  it("keeps Prisma null types distinct from each other and from null, inside filters too", () => {
    const forms = [DbNull, JsonNull, AnyNull, null].map((v) => canonicalize({ where: { data: { equals: v } } }));
    expect(new Set(forms).size).toBe(4);
  });

  it("recognises values from another copy of the Prisma runtime", () => {
    expect(foreign.DbNull).not.toBe(DbNull);
    expect(new foreign.Decimal(1)).not.toBeInstanceOf(Decimal);
    expect(canonicalize({ a: foreign.DbNull })).toBe(canonicalize({ a: DbNull }));
    expect(canonicalize({ a: foreign.JsonNull })).not.toBe(canonicalize({ a: foreign.DbNull }));
    expect(canonicalize({ a: new foreign.Decimal("1.50") })).toBe(canonicalize({ a: new Decimal("1.5") }));
    expect(canonicalize({ a: 1, b: new ForeignSkip() })).toBe(canonicalize({ a: 1 }));
  });

  it("omits undefined values and Prisma.skip, like Prisma", () => {
    expect(canonicalize({ where: { id: 1, name: undefined }, take: undefined })).toBe(canonicalize({ where: { id: 1 } }));
    expect(canonicalize({ where: { id: 1, name: skip } })).toBe(canonicalize({ where: { id: 1 } }));
    expect(canonicalize({ where: { id: 1, name: null } })).not.toBe(canonicalize({ where: { id: 1 } }));
  });

  it("keeps array order and length", () => {
    expect(canonicalize({ in: [1, 2] })).not.toBe(canonicalize({ in: [2, 1] }));
    expect(canonicalize([[1], 2])).not.toBe(canonicalize([1, [2]]));
    expect(canonicalize([undefined])).not.toBe(canonicalize([]));
  });

  it("has no string concatenation ambiguity", () => {
    expect(canonicalize({ a: "b,c" })).not.toBe(canonicalize({ a: "b", c: undefined }));
    expect(canonicalize(["a,b"])).not.toBe(canonicalize(["a", "b"]));
    expect(canonicalize({ 'a":"b': "c" })).not.toBe(canonicalize({ a: 'b":"c' }));
    expect(canonicalize({ a: '"}' })).not.toBe(canonicalize({ a: "", "}": "" }));
  });

  it("treats Decimals by value and Dates by instant", () => {
    expect(canonicalize(new Decimal("1.50"))).toBe(canonicalize(new Decimal("1.5")));
    expect(canonicalize(new Decimal("1.5"))).not.toBe(canonicalize(new Decimal("1.51")));
    expect(canonicalize(new Date(5))).toBe(canonicalize(new Date(5)));
    expect(canonicalize(new Date(5))).not.toBe(canonicalize(new Date(6)));
    expect(canonicalize(2n ** 70n)).not.toBe(canonicalize(2n ** 70n + 1n));
  });

  it("encodes bytes by content", () => {
    expect(canonicalize(new Uint8Array([1, 2]))).toBe(canonicalize(Buffer.from([1, 2])));
    expect(canonicalize(new Uint8Array([1, 2]))).not.toBe(canonicalize(new Uint8Array([2, 1])));
  });

  it("uses toJSON for JSON-convertible objects and field references", () => {
    const custom = { toJSON: () => ({ b: 1, a: 2 }) };
    expect(canonicalize(custom)).toBe(canonicalize({ toJSON: () => ({ a: 2, b: 1 }) }));
    expect(canonicalize(custom)).not.toBe(canonicalize({ a: 2, b: 1 }));
    const ref = (name: string) => Object.freeze(Object.assign(Object.create({ kind: "ref" }), { modelName: "Post", name, typeName: "Int", isList: false }));
    expect(canonicalize({ views: { gt: ref("likes") } })).not.toBe(canonicalize({ views: { gt: ref("views") } }));
    expect(canonicalize({ views: { gt: ref("likes") } })).not.toBe(canonicalize({ views: { gt: "likes" } }));
  });

  it("throws a TypeError naming the path for functions and symbols", () => {
    expect(() => canonicalize({ where: { OR: [{}, { id: () => 1 }] } })).toThrow(TypeError);
    expect(() => canonicalize({ where: { OR: [{}, { id: () => 1 }] } })).toThrow("cannot canonicalize value at $.where.OR[1].id: function");
    expect(() => canonicalize({ "my key": Symbol("s") })).toThrow('cannot canonicalize value at $["my key"]: symbol');
  });

  it("throws a TypeError for circular args", () => {
    const where: Record<string, unknown> = {};
    where.self = where;
    expect(() => canonicalize({ where })).toThrow("cannot canonicalize value at $.where.self: circular reference");
  });
});

describe("hashKey", () => {
  it("starts with the namespace, verbatim, and carries at least 128 bits of hash", () => {
    const k = key({ namespace: "{app}:v2" });
    expect(k.startsWith("{app}:v2:")).toBe(true);
    const hash = k.slice("{app}:v2:".length);
    expect(hash).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(hash.length * 6).toBeGreaterThanOrEqual(128);
    expect(hash.length * 6).toBe(KEY_HASH_BITS);
  });

  it("is deterministic and insensitive to key order", () => {
    expect(key()).toBe(key());
    expect(key({ args: { take: 5, where: { b: 1, a: 2 } } })).toBe(key({ args: { where: { a: 2, b: 1 }, take: 5 } }));
  });

  it("differs for every part", () => {
    const keys = [
      key(),
      key({ namespace: "other" }),
      key({ version: 2 }),
      key({ version: "1" }),
      key({ model: "User" }),
      key({ operation: "findFirst" }),
      key({ args: { where: { id: 2 } } }),
      key({ args: { where: { id: "1" } } }),
      key({ args: { where: { id: 1n } } }),
      key({ args: undefined }),
      key({ args: {} }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("keeps part boundaries unambiguous", () => {
    expect(key({ model: "Post", operation: "findMany" })).not.toBe(key({ model: "Postf", operation: "indMany" }));
    expect(key({ model: "a,b" })).not.toBe(key({ model: "a", operation: "b" }));
    // The namespace prefix is split at the last ':'; the hash never contains one.
    expect(key({ namespace: "a:b" }).split(":")).toHaveLength(3);
  });

  it("propagates canonicalization errors for the args", () => {
    expect(() => key({ args: { where: { id: () => 1 } } })).toThrow("cannot canonicalize value at $.where.id: function");
  });
});
