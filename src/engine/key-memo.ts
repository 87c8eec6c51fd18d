/**
 * The L1 key of a read whose arguments were seen before, without building it
 * again. Building the canonical text of `{ where: { id: 1 } }` and hashing
 * that fresh string for the L1 lookup is most of an L1 hit's own cost. A
 * {@link KeyMemo} (one per key prefix, model and operation) hashes the
 * arguments in place, finds the key it built for the same arguments before,
 * and checks them against a snapshot, so nothing is allocated on a hit.
 *
 * The memo is a pure function cache: the same arguments always give the same
 * canonical key, so it never needs invalidating. It takes only arguments
 * made of plain objects, arrays, strings, finite or not numbers, booleans,
 * null, undefined and Dates; anything else (Decimals, bytes, `Prisma.skip`,
 * enum objects, field refs, class instances, cycles) is keyed the general way.
 * Two arguments match only if they have the same own keys in the same order
 * and equal values: a sufficient condition for equal canonical texts (key
 * order and `undefined` members only make more entries in the memo).
 * @module
 */

const objectProto = Object.prototype;
const dateProto = Date.prototype;
const getProto = Object.getPrototypeOf;
const isArray = Array.isArray;
const hasOwn = Object.hasOwn;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
/** Nested deeper than this, arguments are keyed the general way. */
const MAX_DEPTH = 32;
/** Keys longer than this are not remembered (their arguments are large: the memo would hold them twice). */
const MAX_KEY_LENGTH = 2048;
/** Arguments remembered per memo before it starts over. */
const MAX_SLOTS = 1024;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Not hashable: keyed the general way. */
const NOT_SIMPLE = -1;

function mix(h: number, x: number): number {
  return Math.imul(h ^ x, FNV_PRIME);
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

function mixDouble(h: number, tag: number, x: number): number {
  f64[0] = x;
  return mix(mix(mix(h, tag), u32[0]!), u32[1]!);
}

/** The hash of simple arguments (an int32), or {@link NOT_SIMPLE}. */
function hashOf(v: unknown, h: number, depth: number): number {
  switch (typeof v) {
    case "string":
      return mixString(mix(h, 0x22), v);
    case "number":
      return (v | 0) === v ? mix(mix(h, 0x23), v) : mixDouble(h, 0x2e, v);
    case "boolean":
      return mix(h, v ? 0x74 : 0x66);
    case "undefined":
      return mix(h, 0x75);
    case "object": {
      if (v === null) return mix(h, 0x6e);
      if (depth > MAX_DEPTH) return NOT_SIMPLE;
      if (isArray(v)) {
        h = mix(h, 0x5b);
        for (let i = 0; i < v.length; i++) {
          h = hashOf(v[i], h, depth + 1);
          if (h === NOT_SIMPLE) return NOT_SIMPLE;
        }
        return mix(h, 0x5d);
      }
      const proto: unknown = getProto(v);
      if (proto === objectProto) {
        h = mix(h, 0x7b);
        const o = v as Record<string, unknown>;
        for (const k in o) {
          // An inherited enumerable key (a polluted prototype), or an own toJSON: the general way.
          if (!hasOwn(o, k) || k === "toJSON") return NOT_SIMPLE;
          h = hashOf(o[k], mixString(mix(h, 0x3a), k), depth + 1);
          if (h === NOT_SIMPLE) return NOT_SIMPLE;
        }
        return mix(h, 0x7d);
      }
      if (proto === dateProto) return mixDouble(h, 0x64, (v as Date).getTime());
      return NOT_SIMPLE;
    }
    default:
      return NOT_SIMPLE;
  }
}

/** A remembered plain object: its own keys in order, and their values' snapshots. */
class ObjectSnapshot {
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}
class ArraySnapshot {
  constructor(readonly items: readonly unknown[]) {}
}
class DateSnapshot {
  constructor(readonly time: number) {}
}

/** A snapshot of simple arguments (they passed {@link hashOf}). */
function snapshot(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (isArray(v)) return new ArraySnapshot(v.map(snapshot));
  if (getProto(v) === dateProto) return new DateSnapshot((v as Date).getTime());
  const o = v as Record<string, unknown>;
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const k in o) {
    keys.push(k);
    values.push(snapshot(o[k]));
  }
  return new ObjectSnapshot(keys, values);
}

/** Whether simple arguments `v` (they passed {@link hashOf}) are the ones snapshotted in `s`. */
function matches(v: unknown, s: unknown): boolean {
  if (typeof v !== "object" || v === null) return v === s || (typeof v === "number" && typeof s === "number" && Number.isNaN(v) && Number.isNaN(s));
  if (s instanceof ObjectSnapshot) {
    if (isArray(v) || getProto(v) !== objectProto) return false;
    const o = v as Record<string, unknown>;
    const { keys, values } = s;
    let i = 0;
    for (const k in o) {
      if (i >= keys.length || keys[i] !== k || !matches(o[k], values[i])) return false;
      i++;
    }
    return i === keys.length;
  }
  if (s instanceof ArraySnapshot) {
    if (!isArray(v) || v.length !== s.items.length) return false;
    for (let i = 0; i < v.length; i++) if (!matches(v[i], s.items[i])) return false;
    return true;
  }
  return s instanceof DateSnapshot && getProto(v) === dateProto && Object.is((v as Date).getTime(), s.time);
}

interface Slot {
  readonly snapshot: unknown;
  readonly key: string;
  /** Another slot with the same hash. */
  readonly next: Slot | undefined;
}

/**
 * Remembers the L1 keys of one key prefix, model and operation by their
 * arguments. {@link hash} then {@link get}; on a miss, build the key and
 * {@link remember} it.
 */
export class KeyMemo {
  private slots = new Map<number, Slot>();

  /** The hash of `args`, or -1 when they are not simple (build their key the general way, and do not remember it). */
  hash(args: unknown): number {
    return hashOf(args, FNV_OFFSET, 0);
  }

  /** The key built before for these arguments (`hash` is {@link hash}`(args)`, not -1). */
  get(hash: number, args: unknown): string | undefined {
    for (let s = this.slots.get(hash); s !== undefined; s = s.next) if (matches(args, s.snapshot)) return s.key;
    return undefined;
  }

  /** The key built before for `args`, if they are simple and were seen ({@link hash} then {@link get}). */
  find(args: unknown): string | undefined {
    const hash = this.hash(args);
    return hash === -1 ? undefined : this.get(hash, args);
  }

  /** Remembers the key built for `args` (`hash` is {@link hash}`(args)`, not -1). */
  remember(hash: number, args: unknown, key: string): void {
    if (key.length > MAX_KEY_LENGTH) return;
    if (this.slots.size >= MAX_SLOTS) this.slots = new Map();
    this.slots.set(hash, { snapshot: snapshot(args), key, next: this.slots.get(hash) });
  }
}
