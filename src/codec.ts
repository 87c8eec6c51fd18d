/**
 * Type-preserving serialization of Prisma results.
 *
 * Wire format: ordinary JSON in which every value JSON cannot carry is replaced
 * by a *tag object* `{"$@": "<letter><payload>"}`:
 *
 * | letter | type                    | payload                              |
 * | ------ | ----------------------- | ------------------------------------ |
 * | `D`    | `Date`                  | epoch milliseconds (`NaN` if invalid) |
 * | `B`    | `bigint`                | decimal digits                       |
 * | `M`    | Prisma `Decimal`        | `Decimal#valueOf()` (exact)          |
 * | `X`    | `Uint8Array`            | base64                               |
 * | `Y`    | Node.js `Buffer`        | base64                               |
 * | `N`    | non-JSON `number`       | `NaN`, `Infinity`, `-Infinity`, `-0` |
 * | `U`    | `undefined`             | (none)                               |
 *
 * A user object that itself has an own `"$@"` key (Json columns hold arbitrary
 * data) is escaped as `{"$@": 0, "v": {...}}`: the decoder then takes `v`
 * verbatim as an object (decoding only its children), so no user string or
 * Json value can ever be read back as a special type.
 *
 * @module
 */
import { decimalString, getDecimalClass, isDecimalValue as isDecimal, rememberDecimalClass } from "./value-types.js";

/** The reserved key marking a tag object in the encoded JSON. */
export const TAG_KEY = "$@";

const TAG = TAG_KEY;
const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;
const nodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function isDate(v: object): v is Date {
  return v instanceof Date || objectProto.toString.call(v) === "[object Date]";
}

function toBase64(v: Uint8Array): string {
  if (nodeBuffer !== undefined) return nodeBuffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]!);
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  if (nodeBuffer !== undefined) {
    const b = nodeBuffer.from(s, "base64");
    // Copy out of Buffer's shared pool: callers get a standalone Uint8Array, as Prisma returns.
    const out = new Uint8Array(b.length);
    out.set(b);
    return out;
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Assign `out[k] = v` without triggering the `__proto__` setter. */
export function put(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

/** Thrown by the fast encoder; {@link encode} replaces it with a TypeError that names the path. */
class Unencodable {}
const UNENCODABLE = new Unencodable();

function tag(payload: string): Record<string, unknown> {
  return { "$@": payload };
}

function encodeNumber(n: number): unknown {
  if (n - n !== 0) return tag("N" + String(n)); // NaN, ±Infinity (JSON would turn them into null)
  if (n === 0 && 1 / n < 0) return tag("N-0");
  return n;
}

/** Encode one value into its JSON-safe form; returns `v` itself when nothing changes. */
function enc(v: unknown): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return encodeNumber(v);
    case "bigint":
      return tag("B" + v.toString());
    case "undefined":
      return tag("U");
    case "object":
      return v === null ? null : encObject(v);
    default:
      throw UNENCODABLE;
  }
}

function encObject(v: object): unknown {
  if (isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = typeof x === "string" || typeof x === "boolean" || x === null ? x : enc(x);
      if (out !== undefined) out[i] = y;
      else if (y !== x) {
        out = v.slice(0, i);
        out[i] = y;
      }
    }
    return out ?? v;
  }
  const proto: unknown = getProto(v);
  if (proto === objectProto || proto === null) {
    const src = v as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k in src) {
      const x = src[k];
      const y = typeof x === "string" || typeof x === "boolean" || x === null ? x : enc(x);
      if (out !== undefined) {
        if (k === "__proto__") put(out, k, y);
        else out[k] = y;
      } else if (y !== x) {
        out = {};
        for (const k2 in src) {
          if (k2 === k) break;
          put(out, k2, src[k2]);
        }
        put(out, k, y);
      }
    }
    if (Object.hasOwn(src, TAG)) return { "$@": 0, v: out ?? src };
    return out ?? src;
  }
  if (v instanceof Date) return tag("D" + v.getTime());
  if (v instanceof Uint8Array) return tag((nodeBuffer !== undefined && v instanceof nodeBuffer ? "Y" : "X") + toBase64(v));
  if (isDecimal(v)) {
    rememberDecimalClass(v);
    return tag("M" + decimalString(v));
  }
  if (isDate(v)) return tag("D" + (v as Date).getTime());
  throw UNENCODABLE;
}

/**
 * Serialize a Prisma result to a JSON string that {@link decode} turns back
 * into the same types: `Date`, `bigint`, `Decimal`, `Uint8Array` (what Prisma
 * returns for bytes) and `Buffer` (what a wrapped function may), `null`, `undefined`,
 * non-finite numbers and `-0`, nested plain objects and arrays, and arbitrary
 * Json column content (see the module comment for the tag scheme).
 *
 * @throws {TypeError} for values it cannot encode (functions, symbols, class
 *   instances other than the supported ones, typed arrays other than
 *   `Uint8Array`, circular structures), naming the path, e.g.
 *   `cannot encode value at $.posts[2].author: function`.
 */
export function encode(value: unknown): string {
  let safe: unknown;
  try {
    safe = enc(value);
  } catch (err) {
    if (err === UNENCODABLE || err instanceof RangeError) throw new TypeError(describeFailure(value));
    throw err;
  }
  return JSON.stringify(safe);
}

/** Slow path: find the first value {@link encode} rejects and say where it is. */
function describeFailure(root: unknown): string {
  const ancestors = new Set<object>();
  const walk = (v: unknown, path: string): string | undefined => {
    const t = typeof v;
    if (t === "function") return `cannot encode value at ${path}: function`;
    if (t === "symbol") return `cannot encode value at ${path}: symbol`;
    if (t !== "object" || v === null) return undefined;
    const o = v as object;
    if (ancestors.has(o)) return `cannot encode value at ${path}: circular reference`;
    if (isArray(o)) {
      ancestors.add(o);
      for (let i = 0; i < o.length; i++) {
        const r = walk(o[i], `${path}[${i}]`);
        if (r !== undefined) return r;
      }
      ancestors.delete(o);
      return undefined;
    }
    const proto: unknown = getProto(o);
    if (proto === objectProto || proto === null) {
      ancestors.add(o);
      for (const k in o) {
        const r = walk((o as Record<string, unknown>)[k], pathAppend(path, k));
        if (r !== undefined) return r;
      }
      ancestors.delete(o);
      return undefined;
    }
    if (o instanceof Uint8Array || isDate(o) || isDecimal(o)) return undefined;
    return `cannot encode value at ${path}: ${describeInstance(o)}`;
  };
  return walk(root, "$") ?? "cannot encode value at $: nesting too deep";
}

/** Append an object key to a `$.a[0].b` style path. @internal */
export function pathAppend(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A short description of a non-plain object for error messages. @internal */
export function describeInstance(o: object): string {
  const ctor = (o as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor === "function" && typeof ctor.name === "string" && ctor.name !== "" ? ctor.name : "anonymous class";
  return `instance of ${name}`;
}

function decodeTag(payload: unknown, obj: Record<string, unknown>): unknown {
  if (typeof payload !== "string") {
    if (payload === 0) {
      const inner = obj.v;
      if (typeof inner === "object" && inner !== null && !isArray(inner)) {
        decChildren(inner as Record<string, unknown>);
        return inner;
      }
    }
    throw new SyntaxError("corrupt encoded value: bad tag object");
  }
  const body = payload.slice(1);
  switch (payload.charCodeAt(0)) {
    case 68 /* D */:
      return new Date(Number(body));
    case 66 /* B */:
      return BigInt(body);
    case 77 /* M */:
      return new (getDecimalClass())(body);
    case 88 /* X */:
      return fromBase64(body);
    case 89 /* Y */:
      return nodeBuffer !== undefined ? nodeBuffer.from(fromBase64(body).buffer) : fromBase64(body);
    case 78 /* N */:
      return body === "-0" ? -0 : Number(body);
    case 85 /* U */:
      return undefined;
    default:
      throw new SyntaxError(`corrupt encoded value: unknown tag ${JSON.stringify(payload.slice(0, 1))}`);
  }
}

function decChildren(o: Record<string, unknown>): void {
  for (const k in o) {
    const x = o[k];
    if (typeof x === "object" && x !== null) {
      const y = dec(x);
      if (y !== x) o[k] = y;
    }
  }
}

/** Revive tags in place inside a freshly parsed tree. */
function dec(v: object): unknown {
  if (isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === "object" && x !== null) {
        const y = dec(x);
        if (y !== x) v[i] = y;
      }
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  const t = o["$@"];
  if (t !== undefined) return decodeTag(t, o);
  decChildren(o);
  return o;
}

/**
 * Inverse of {@link encode}. Decimals are re-created with the class set by
 * {@link setDecimalClass} (or remembered from the first encoded Decimal).
 *
 * @throws {SyntaxError} if `text` is not valid JSON or holds a malformed tag or
 *   payload (callers treat this as a corrupt cache entry: a miss).
 */
export function decode(text: string): unknown {
  const v: unknown = JSON.parse(text);
  if (typeof v !== "object" || v === null) return v;
  try {
    return dec(v);
  } catch (err) {
    if (err instanceof SyntaxError) throw err;
    // e.g. decimal.js rejecting a damaged payload: report every corruption the same way.
    throw new SyntaxError(`corrupt encoded value: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Approximate memory cost, in bytes, of a cached entry given its encoded form,
 * for the L1 `maxBytes` bound: `encoded.length * 2` (UTF-16 code units). O(1);
 * it over-counts one-byte strings and under-counts the object overhead of the
 * decoded value, which is typically within 2× of this figure.
 */
export function byteSize(encoded: string): number {
  return encoded.length * 2;
}
