import { Decimal } from "@prisma/client/runtime/client";
import { loadForeignRuntime } from "../support/foreign-runtime.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cloneResult } from "../../src/clone.js";
import { byteSize, decode, encode, TAG_KEY } from "../../src/codec.js";
import { getDecimalClass, setDecimalClass } from "../../src/value-types.js";

const roundTrip = <T>(v: T): unknown => decode(encode(v));

const CjsDecimal = loadForeignRuntime().Decimal as unknown as typeof Decimal;

afterEach(() => setDecimalClass(Decimal));

describe("encode/decode round-trips", () => {
  it("keeps primitives, null and plain JSON", () => {
    for (const v of [null, true, false, 0, 1.5, -42, "", "text", [], {}, [1, "a", null], { a: { b: [1, { c: null }] } }]) {
      expect(roundTrip(v)).toEqual(v);
    }
  });

  it("keeps Date as Date, including invalid dates", () => {
    const d = new Date("2026-01-02T03:04:05.678Z");
    const out = roundTrip({ at: d }) as { at: Date };
    expect(out.at).toBeInstanceOf(Date);
    expect(out.at.getTime()).toBe(d.getTime());
    const bad = roundTrip(new Date(Number.NaN)) as Date;
    expect(bad).toBeInstanceOf(Date);
    expect(Number.isNaN(bad.getTime())).toBe(true);
  });

  it("keeps bigint beyond 2^53 and negative", () => {
    const values = [0n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n, -9007199254740993n, 10n ** 40n];
    const out = roundTrip(values) as bigint[];
    expect(out).toEqual(values);
    for (const v of out) expect(typeof v).toBe("bigint");
  });

  it("keeps Decimal exactly, as an instance of Prisma's Decimal", () => {
    const values = [
      "123456789012345678901234567890.123456789012345678901234567890",
      "-0.000000000000000000000000000001",
      "12345.678900",
      "1e+40",
      "0",
      "NaN",
      "-Infinity",
    ].map((s) => new Decimal(s));
    const out = roundTrip(values) as Decimal[];
    out.forEach((d, i) => {
      expect(d).toBeInstanceOf(Decimal);
      expect(Decimal.isDecimal(d)).toBe(true);
      expect(d.toString()).toBe(values[i]!.toString());
      expect(d.toFixed()).toBe(values[i]!.toFixed());
    });
    const negZero = roundTrip(new Decimal("-0")) as Decimal;
    expect(negZero.isNegative()).toBe(true);
  });

  it("detects a Decimal from another copy of the runtime by duck typing, and remembers its class", () => {
    const foreign = new CjsDecimal("3.14159265358979323846264338327950288");
    expect(foreign).not.toBeInstanceOf(Decimal);
    setDecimalClass(Decimal);
    const text = encode({ price: foreign });
    const out = decode(text) as { price: unknown };
    expect(out.price).toBeInstanceOf(Decimal);
    expect(String(out.price)).toBe(foreign.toString());

    setDecimalClass(CjsDecimal);
    expect(getDecimalClass()).toBe(CjsDecimal);
    const out2 = decode(text) as { price: unknown };
    expect(out2.price).toBeInstanceOf(CjsDecimal);
  });

  it("has no Decimal class of its own: decoding one before the seam registers Prisma's says so", async () => {
    vi.resetModules();
    const bare = (await import("../../src/codec.js")) as typeof import("../../src/codec.js");
    const text = bare.encode({ n: 1 }).replace("{", '{"d":{"$@":"M","v":"1.5"},');
    expect(() => bare.decode(bare.encode(null))).not.toThrow();
    expect(() => bare.decode(text)).toThrow(/no Decimal class is registered/);
  });

  it("remembers the class of the first Decimal it encodes, unless one was set explicitly", async () => {
    vi.resetModules();
    const fresh = { ...(await import("../../src/codec.js")), ...(await import("../../src/value-types.js")) };
    fresh.setDefaultDecimalClass(Decimal); // what the Prisma seam does
    expect(fresh.getDecimalClass()).toBe(Decimal);
    const text = fresh.encode([new CjsDecimal("1.25")]);
    expect(fresh.getDecimalClass()).toBe(CjsDecimal);
    fresh.encode(new Decimal("2")); // only the first one counts
    expect(fresh.getDecimalClass()).toBe(CjsDecimal);
    expect((fresh.decode(text) as unknown[])[0]).toBeInstanceOf(CjsDecimal);

    vi.resetModules();
    const pinned = { ...(await import("../../src/codec.js")), ...(await import("../../src/value-types.js")) };
    pinned.setDecimalClass(Decimal);
    pinned.encode(new CjsDecimal("1"));
    pinned.setDefaultDecimalClass(CjsDecimal); // a default never overrides a chosen class
    expect(pinned.getDecimalClass()).toBe(Decimal);
  });

  it("keeps Uint8Array and Buffer", () => {
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const out = roundTrip({ bytes, empty: new Uint8Array(0) }) as { bytes: Uint8Array; empty: Uint8Array };
    expect(out.bytes.constructor).toBe(Uint8Array);
    expect(Array.from(out.bytes)).toEqual([0, 1, 2, 253, 254, 255]);
    expect(out.empty.length).toBe(0);

    const view = new Uint8Array(new Uint8Array([9, 8, 7, 6, 5]).buffer, 1, 3);
    expect(Array.from(roundTrip(view) as Uint8Array)).toEqual([8, 7, 6]);

    const buf = Buffer.from("hello");
    const fromBuf = roundTrip(buf) as Buffer;
    expect(Buffer.isBuffer(fromBuf)).toBe(true);
    expect(fromBuf.toString()).toBe("hello");
    expect(fromBuf.byteLength).toBe(fromBuf.buffer.byteLength); // standalone, not a view on Buffer's pool
  });

  it("keeps numbers JSON cannot carry", () => {
    const out = roundTrip([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0]) as number[];
    expect(out[0]).toBeNaN();
    expect(out[1]).toBe(Number.POSITIVE_INFINITY);
    expect(out[2]).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(out[3], -0)).toBe(true);
    expect(Object.is(out[4], 0)).toBe(true);
  });

  it("keeps undefined at the top level, in arrays and in objects", () => {
    expect(roundTrip(undefined)).toBeUndefined();
    expect(roundTrip([1, undefined, 2])).toEqual([1, undefined, 2]);
    const o = roundTrip({ a: undefined }) as object;
    expect(Object.hasOwn(o, "a")).toBe(true);
  });

  it("never decodes a Json string that looks like a date, number or tag as a special type", () => {
    const json = ["2026-01-01T00:00:00.000Z", "123", "12345678901234567890", "D1767225600000", "B123", "M1.5", "XAAEC", "U", '{"$@":"D0"}', "$@"];
    expect(roundTrip(json)).toEqual(json);
    expect(roundTrip({ json })).toEqual({ json });
  });

  it("escapes user objects that contain the reserved key, at any depth", () => {
    const values: unknown[] = [
      { [TAG_KEY]: "D1767225600000" },
      { [TAG_KEY]: 0, v: { x: 1 } },
      { [TAG_KEY]: "B1", other: "kept" },
      { [TAG_KEY]: { [TAG_KEY]: "M1" } },
      { [TAG_KEY]: null },
      [{ [TAG_KEY]: "U" }, { nested: { [TAG_KEY]: [{ [TAG_KEY]: "X" }] } }],
    ];
    for (const v of values) expect(roundTrip(v)).toEqual(v);
    // Special values inside an escaped object are still revived.
    const at = new Date(5);
    const out = roundTrip({ [TAG_KEY]: at, n: 7n }) as Record<string, unknown>;
    expect(out[TAG_KEY]).toBeInstanceOf(Date);
    expect(out.n).toBe(7n);
  });

  it("keeps an own __proto__ key as data, without touching the prototype", () => {
    const src = JSON.parse('{"__proto__": {"polluted": true}, "a": 1, "d": null}') as Record<string, unknown>;
    src.d = new Date(0); // force the object to be rebuilt
    const out = roundTrip(src) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    // biome-ignore lint/suspicious/noProto: the test is about an own "__proto__" key surviving the round trip.
    expect(out.__proto__).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("round-trips nested arrays and a realistic result with every Prisma type", () => {
    const row = {
      id: 1,
      text: "hi",
      note: null,
      big: 2n ** 60n,
      decimal: new Decimal("99999999999999.123456"),
      at: new Date("2026-03-04T05:06:07.089Z"),
      bytes: new Uint8Array([1, 2, 3]),
      json: { list: [[1, [2, [3, "2026-01-01T00:00:00.000Z"]]], { deep: null }], flag: false },
      role: "ADMIN",
      author: { id: 2, posts: [{ id: 3, createdAt: new Date(3) }] },
      _count: { posts: 1 },
    };
    const out = roundTrip([row, row]) as (typeof row)[];
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual(row);
    expect(out[0]!.decimal).toBeInstanceOf(Decimal);
    expect(out[0]!.author.posts[0]!.createdAt).toBeInstanceOf(Date);
    expect(out[0]).not.toBe(out[1]);
  });

  it("does not mutate its input", () => {
    const input = { at: new Date(1), list: [1n, { [TAG_KEY]: "x" }] };
    const snapshot = { at: new Date(1), list: [1n, { [TAG_KEY]: "x" }] };
    encode(input);
    expect(input).toEqual(snapshot);
  });
});

describe("encode errors", () => {
  it("names the path of a function", () => {
    const value = { posts: [{}, {}, { author: () => 1 }] };
    expect(() => encode(value)).toThrow(TypeError);
    expect(() => encode(value)).toThrow("cannot encode value at $.posts[2].author: function");
  });

  it("names the path of a symbol, an unsupported class instance and odd keys", () => {
    expect(() => encode({ a: { "odd key": Symbol("s") } })).toThrow('cannot encode value at $.a["odd key"]: symbol');
    expect(() => encode([new Map()])).toThrow("cannot encode value at $[0]: instance of Map");
    expect(() => encode({ f: new Float32Array(2) })).toThrow("cannot encode value at $.f: instance of Float32Array");
    class Point {
      x = 1;
    }
    expect(() => encode({ p: new Point() })).toThrow("cannot encode value at $.p: instance of Point");
    expect(() => encode(() => 1)).toThrow("cannot encode value at $: function");
  });

  it("reports circular structures as a TypeError", () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = { back: a };
    expect(() => encode(a)).toThrow("cannot encode value at $.self.back: circular reference");
  });
});

describe("decode errors", () => {
  it("throws on invalid JSON and malformed tags", () => {
    expect(() => decode("{")).toThrow(SyntaxError);
    expect(() => decode('{"$@":"Qx"}')).toThrow(SyntaxError);
    expect(() => decode('{"$@":1}')).toThrow(SyntaxError);
    expect(() => decode('{"$@":0,"v":[1]}')).toThrow(SyntaxError);
    expect(() => decode('{"$@":"Mnot-a-number"}')).toThrow(SyntaxError);
    expect(() => decode('[{"$@":"B1.5"}]')).toThrow(SyntaxError);
  });
});

describe("cloneResult", () => {
  const make = () => ({
    id: 1,
    at: new Date(1000),
    bytes: new Uint8Array([1, 2, 3]),
    price: new Decimal("1.5"),
    big: 5n,
    tags: ["a", "b"],
    author: { id: 2, profile: { bio: "x" }, posts: [{ id: 3 }] },
    json: { list: [[1, 2], { k: "v" }] },
    none: null,
  });

  it("returns an equal value with the same types", () => {
    const original = make();
    const copy = cloneResult(original);
    expect(copy).toEqual(original);
    expect(copy).not.toBe(original);
    expect(copy.at).toBeInstanceOf(Date);
    expect(copy.bytes.constructor).toBe(Uint8Array);
    expect(copy.price).toBeInstanceOf(Decimal);
  });

  it("returns a deep copy: mutating the copy never reaches the original", () => {
    const original = make();
    const copy = cloneResult(original);
    copy.id = 99;
    copy.at.setTime(0);
    copy.bytes[0] = 42;
    copy.tags.push("c");
    copy.author.profile.bio = "changed";
    copy.author.posts[0]!.id = 77;
    copy.author.posts.push({ id: 4 });
    (copy.json.list[0] as number[])[0] = 100;
    (copy.json.list[1] as Record<string, string>).k = "changed";
    expect(original).toEqual(make());
  });

  it("copies arrays of rows and top-level primitives", () => {
    const rows = [make(), make()];
    const copy = cloneResult(rows);
    expect(copy).toEqual(rows);
    copy[0]!.author.id = 0;
    expect(rows[0]!.author.id).toBe(2);
    expect(cloneResult(null)).toBeNull();
    expect(cloneResult(3)).toBe(3);
    expect(cloneResult("s")).toBe("s");
    expect(cloneResult(7n)).toBe(7n);
    expect(cloneResult(undefined)).toBeUndefined();
  });

  it("keeps Buffers as Buffers, null-prototype objects and own __proto__ keys", () => {
    const buf = Buffer.from([1, 2]);
    const copy = cloneResult({ buf });
    expect(Buffer.isBuffer(copy.buf)).toBe(true);
    copy.buf[0] = 9;
    expect(buf[0]).toBe(1);

    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: { b: 1 } });
    const bareCopy = cloneResult(bare);
    expect(Object.getPrototypeOf(bareCopy)).toBeNull();
    expect(bareCopy.a).not.toBe(bare.a);

    const withProtoKey = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    const protoCopy = cloneResult(withProtoKey);
    expect(Object.getPrototypeOf(protoCopy)).toBe(Object.prototype);
    expect(Object.hasOwn(protoCopy, "__proto__")).toBe(true);
  });
});

describe("byteSize", () => {
  it("is two bytes per UTF-16 code unit", () => {
    expect(byteSize("")).toBe(0);
    const text = encode({ a: "héllo" });
    expect(byteSize(text)).toBe(text.length * 2);
  });
});
