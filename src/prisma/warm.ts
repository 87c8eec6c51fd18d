/**
 * The seams of warming: how the result of a read function given to
 * `$cache.warm(reads)` (engine/warm.ts) tells how the cache answered it,
 * through `withCacheInfo()` of the lazy cached read (lazy.ts); and how a
 * warm start (`warm: { top }`, engine/hot.ts) reads an entry it loaded
 * again through the client.
 * @module
 */
import type { RereadThroughClient } from "../engine/hot.js";
import type { CacheStatus } from "../engine/request.js";
import type { AnsweredBy } from "../engine/warm.js";
import { CacheUsageError } from "../errors.js";

type WithInfo = { withCacheInfo(): PromiseLike<{ info: { status: CacheStatus } }> };

const hasCacheInfo = (v: unknown): v is WithInfo => typeof v === "object" && v !== null && typeof (v as Record<string, unknown>).withCacheInfo === "function";

/**
 * Runs a read function's result and resolves to how it was answered. A
 * result that is not a cached read (an async function's promise, a read of
 * a client without the cache) is still awaited, then rejected with a
 * {@link CacheUsageError} saying why warm() cannot count it.
 */
export const answeredBy: AnsweredBy = (result) => {
  if (hasCacheInfo(result)) return Promise.resolve(result.withCacheInfo()).then(({ info }) => info.status);
  return Promise.resolve(result).then(() => {
    throw new CacheUsageError(
      "$cache.warm(reads): a read function returned something other than a cached read, so how it was answered is unknown; return the read itself (() => prisma.post.findMany(...)), not an async function's promise",
    );
  });
};

type Delegates = Record<string, Record<string, ((args?: Record<string, unknown>) => PromiseLike<unknown>) | undefined> | undefined>;

/**
 * Reads a loaded entry again through `client` (the cache's first client),
 * as the app would: its model's delegate (the model's name with a
 * lower-case first letter), the operation, the arguments and the
 * per-query option. A model or operation the client lacks resolves to
 * undefined.
 */
export function rereadThrough(client: unknown): RereadThroughClient {
  const delegates = client as Delegates;
  return ({ model, operation, args, cache }) => {
    const delegate = delegates[model.charAt(0).toLowerCase() + model.slice(1)];
    const method = delegate?.[operation];
    if (method === undefined) return Promise.resolve(undefined);
    return method.call(delegate, cache === undefined ? args : { ...args, cache });
  };
}
