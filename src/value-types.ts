/**
 * Prisma's own value types, recognised without importing Prisma: the one
 * place for `Decimal`, `Prisma.skip` and Prisma's null types (DbNull,
 * JsonNull, AnyNull). Duck-typed, because two copies of Prisma's runtime (the
 * dual ESM/CJS package hazard) give two classes of each. And the Decimal
 * class decoded values are re-created with.
 * @module
 */

/** `Symbol.toStringTag` of decimal.js instances (what `Decimal.isDecimal` checks). */
export const DECIMAL_TAG = "[object Decimal]";

/** The marker Prisma's null types (DbNull, JsonNull, AnyNull) carry. */
export const OBJECT_ENUM = Symbol.for("prisma.objectEnumValue");

/**
 * Whether a non-plain object is a decimal.js / Prisma `Decimal`: tagged
 * `[object Decimal]` with `toFixed`, or the `{ s, e, d, toFixed() }` shape
 * Prisma's own serializer also accepts.
 */
export function isDecimal(v: object): boolean {
  const d = v as { toStringTag?: unknown; s?: unknown; e?: unknown; d?: unknown; toFixed?: unknown };
  if (typeof d.toFixed !== "function") return false;
  return d.toStringTag === DECIMAL_TAG || (typeof d.s === "number" && typeof d.e === "number" && (Array.isArray(d.d) || d.d === null));
}

/** Whether a non-plain object is `Prisma.skip`: an instance with an `ifUndefined` method and no own fields. */
export function isSkip(v: object): boolean {
  return typeof (v as { ifUndefined?: unknown }).ifUndefined === "function" && Object.keys(v).length === 0;
}

/** Whether a value is one of Prisma's null types (DbNull, JsonNull, AnyNull). */
export function isObjectEnum(v: object): boolean {
  return (v as Record<symbol, unknown>)[OBJECT_ENUM] === true;
}

/** A constructor able to re-create a Decimal from its string form (decimal.js API). */
export type DecimalConstructor = new (value: string) => object;

/** A stand-in until the ORM seam registers its class: decoding a Decimal without one says so. */
class NoDecimalClass {
  constructor(value: string) {
    throw new Error(`no Decimal class is registered to decode ${value} (the Prisma seam registers Prisma's at import)`);
  }
}

let DecimalCtor: DecimalConstructor = NoDecimalClass;
let decimalPinned = false;

/**
 * The class used to re-create `Decimal` values on decode until another is
 * set or seen. The Prisma seam (src/prisma/decimal.ts) registers Prisma's
 * `Decimal` when the library is imported; it never overrides a class that
 * {@link setDecimalClass} or an encoded value set.
 */
export function setDefaultDecimalClass(ctor: DecimalConstructor): void {
  if (!decimalPinned) DecimalCtor = ctor;
}

/**
 * Set the class used to re-create `Decimal` values on decode.
 *
 * The first Decimal seen by {@link encode} sets it automatically (so decoded
 * values share the class of the results Prisma really returns, even under the
 * dual ESM/CJS package hazard); an explicit call wins over that and over
 * later values.
 */
export function setDecimalClass(ctor: DecimalConstructor): void {
  DecimalCtor = ctor;
  decimalPinned = true;
}

/** The class currently used to re-create `Decimal` values on decode. */
export function getDecimalClass(): DecimalConstructor {
  return DecimalCtor;
}

/** Whether `v` (a non-plain object) is a Decimal: the current class, or one that looks like it ({@link isDecimal}). */
export function isDecimalValue(v: object): boolean {
  return v instanceof DecimalCtor || isDecimal(v);
}

/** The exact string form of a Decimal. */
export function decimalString(v: object): string {
  const d = v as { toStringTag?: unknown; valueOf(): unknown; toFixed(): string };
  // decimal.js: valueOf is exact, keeps -0, and is shorter than toFixed for large exponents.
  return d.toStringTag === DECIMAL_TAG || v instanceof DecimalCtor ? String(d.valueOf()) : d.toFixed();
}

/** Makes the class of `v` (the first Decimal the encoder meets) the one decoded values get, unless one was set or seen before. */
export function rememberDecimalClass(v: object): void {
  if (decimalPinned) return;
  decimalPinned = true;
  const ctor: unknown = (v as { constructor?: unknown }).constructor;
  if (typeof ctor === "function" && typeof (ctor as { isDecimal?: unknown }).isDecimal === "function") {
    DecimalCtor = ctor as unknown as DecimalConstructor;
  }
}
