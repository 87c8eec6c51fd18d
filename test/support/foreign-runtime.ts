import { createRequire } from "node:module";
import type { Decimal } from "@prisma/client/runtime/client";

/** A second, independent copy of Prisma's runtime utils, as under the dual ESM/CJS package hazard. */
export interface ForeignRuntime {
  Decimal: typeof Decimal;
  DbNull: object;
  JsonNull: object;
}

/**
 * Loads a fresh module instance of `@prisma/client-runtime-utils`: its Decimal
 * and null types are distinct classes from the ones the generated client uses.
 */
export function loadForeignRuntime(): ForeignRuntime {
  // Resolve from @prisma/client, which depends on the utils package.
  const fromClient = createRequire(createRequire(import.meta.url).resolve("@prisma/client/runtime/client"));
  const id = fromClient.resolve("@prisma/client-runtime-utils");
  const saved = fromClient.cache[id];
  delete fromClient.cache[id];
  try {
    return fromClient(id) as ForeignRuntime;
  } finally {
    if (saved) fromClient.cache[id] = saved;
    else delete fromClient.cache[id];
  }
}
