/**
 * Recognising Prisma's own value types without importing Prisma: the one
 * place for `Decimal`, `Prisma.skip` and Prisma's null types (DbNull,
 * JsonNull, AnyNull). Duck-typed, because two copies of Prisma's runtime (the
 * dual ESM/CJS package hazard) give two classes of each.
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
