/**
 * Copies of cached values: L1 keeps its own copy of each value and hands
 * every caller a fresh one, so that a caller's mutation never reaches the
 * cache or another caller.
 * @module
 */

const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;
const nodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function cloneObject(v: object): unknown {
  if (isArray(v)) {
    const n = v.length;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const x: unknown = v[i];
      out[i] = typeof x === "object" && x !== null ? cloneObject(x) : x;
    }
    return out;
  }
  const proto: unknown = getProto(v);
  if (proto === objectProto) {
    // Spread copies every own property at once (an own "__proto__" too, as a
    // data property); then the nested objects are replaced by their copies.
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = { ...src };
    for (const k in src) {
      const x = src[k];
      if (typeof x === "object" && x !== null) out[k] = cloneObject(x);
    }
    return out;
  }
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof Uint8Array) {
    if (nodeBuffer !== undefined && v instanceof nodeBuffer) return nodeBuffer.from(v);
    return Uint8Array.prototype.slice.call(v);
  }
  if (proto === null) {
    const src = v as Record<string, unknown>;
    const out = Object.create(null) as Record<string, unknown>;
    for (const k in src) {
      const x = src[k];
      out[k] = typeof x === "object" && x !== null ? cloneObject(x) : x;
    }
    return out;
  }
  // Decimal is immutable and safe to share; anything else unknown is shared as-is.
  return v;
}

/**
 * A fast deep copy of a decoded result, for the L1 tier: each caller gets its
 * own copy so a caller's mutation never reaches the cache or other callers.
 *
 * Copies plain objects (including null-prototype ones), arrays, `Date`,
 * `Uint8Array` and `Buffer`. Decimals (immutable), primitives and any other
 * class instance are shared, not copied.
 */
export function cloneResult<T>(value: T): T {
  return (typeof value === "object" && value !== null ? cloneObject(value) : value) as T;
}
