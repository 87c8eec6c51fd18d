/**
 * Prisma's value classes, handed to the engine: the codec re-creates
 * `Decimal` values with Prisma's class unless it has seen or been given
 * another. Called by `prismaCache(...)` (a call, not an import side effect,
 * so that no bundler can drop it).
 * @module
 */
import { Decimal } from "@prisma/client/runtime/client";
import { setDefaultDecimalClass, type DecimalConstructor } from "../values.js";

/** Registers Prisma's `Decimal` as the codec's default class. */
export function usePrismaValues(): void {
  setDefaultDecimalClass(Decimal as unknown as DecimalConstructor);
}
