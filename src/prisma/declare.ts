/**
 * Declarations of how an extension changes what reads return:
 * `cacheScope(scope, extension)` and `cacheNeutral(extension)`. A read through
 * a client with a query extension the cache cannot see into is not cached
 * unless the extension is declared one of these ways (or `prismaCache({ scope })`
 * covers the client it was applied to).
 *
 * A declaration wraps the extension between two empty marker layers, so the
 * cache finds, in the client's extension list, which layers it covers
 * (whatever the extension is: an object, or a function that applies several).
 * @module
 */
import { type Marker, registry } from "./registry.js";
import { CacheUsageError } from "../errors.js";

/**
 * A value that tells apart the callers whose reads return different results:
 * a tenant id, a user id, a role, or a list or object of such values.
 * It becomes part of the cache key, in canonical form.
 */
export type CacheScope = string | number | bigint | boolean | null | undefined | readonly CacheScope[] | { readonly [key: string]: CacheScope };

/**
 * A scope: a fixed value, or a function called on each cached read (for
 * example reading an `AsyncLocalStorage` store) that returns it.
 */
export type ScopeSource = CacheScope | (() => CacheScope);

/** What a declaration says about the layers it wraps. */
export type Declaration = { readonly kind: "scope"; readonly scope: ScopeSource } | { readonly kind: "neutral" };

/** Marker layer → its declaration (shared by every copy of the library in the process, see registry.ts). */
const markers = registry.markers;

/** The declaration and edge of a marker layer, or undefined for any other extension object. */
export const markerOf = (extension: object): Marker | undefined => markers.get(extension);

type Extendable = { $extends(extension: unknown): Extendable };

function declare<E>(declaration: Declaration, extension: E, where: string): E {
  if ((typeof extension !== "object" && typeof extension !== "function") || extension === null) {
    throw new CacheUsageError(
      `${where}: extension must be a Prisma extension (an object or Prisma.defineExtension(...)), got ${extension === null ? "null" : typeof extension}`,
    );
  }
  const start = { name: "prisma-tiered-cache:declared" };
  const end = { name: "prisma-tiered-cache:declared" };
  markers.set(start, { declaration, edge: "start" });
  markers.set(end, { declaration, edge: "end" });
  // Prisma's $extends calls a function extension with the client and uses what it returns.
  const wrapped = (client: Extendable) => client.$extends(start).$extends(extension).$extends(end);
  return wrapped as unknown as E;
}

/**
 * Declares that reads through `extension` vary with `scope`, so that they can
 * be cached: `scope` (a value, or a function of the request context) becomes
 * part of every key read through a client with it. Use it for tenant filters
 * and row-level security set per request. Pass the result to `$extends`.
 *
 * @example
 * const forTenant = (id: string) => prisma.$extends(cacheScope({ tenant: id }, tenantFilter(id)));
 * @throws {CacheUsageError} when `extension` is not an extension.
 */
export function cacheScope<E>(scope: ScopeSource, extension: E): E {
  return declare({ kind: "scope", scope }, extension, "cacheScope(scope, extension)");
}

/**
 * Declares that `extension` does not change what reads return (logging,
 * timing, metrics, tracing), so that reads through a client with it are
 * cached as if it were not there. Pass the result to `$extends`.
 *
 * @example
 * const prisma = base.$extends(cacheNeutral(queryLogger)).$extends(prismaCache({ ttl: 60 }));
 * @throws {CacheUsageError} when `extension` is not an extension.
 */
export function cacheNeutral<E>(extension: E): E {
  return declare({ kind: "neutral" }, extension, "cacheNeutral(extension)");
}
