/**
 * Prisma's `Decimal` class, handed to the engine: the codec re-creates
 * `Decimal` values with it unless it has seen or been given another.
 * Registered by `prismaCache(...)` (a call, not an import side effect, so
 * that no bundler can drop it).
 * @module
 */
import { Decimal } from "@prisma/client/runtime/client";
import { setDefaultDecimalClass, type DecimalConstructor } from "../value-types.js";

/** Registers Prisma's `Decimal` as the codec's default class. */
export function usePrismaDecimal(): void {
  setDefaultDecimalClass(Decimal as unknown as DecimalConstructor);
}
