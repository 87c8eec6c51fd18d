/**
 * The seam of `$cache.warm(reads)` (engine/warm.ts): how the result of a
 * read function tells how the cache answered it, through `withCacheInfo()`
 * of the lazy cached read (lazy.ts).
 * @module
 */
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
