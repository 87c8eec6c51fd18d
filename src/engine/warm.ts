/**
 * `prisma.$cache.warm(reads, { concurrency, onProgress })`: runs a list of
 * cached reads through the normal read path, a few at once, and counts how
 * each was answered. An entry already fresh is a hit (nothing recomputed);
 * a missing one goes through single-flight, the lease and the
 * compare-and-set fill like any miss, so that warming never causes a
 * stampede. A read that throws or rejects is counted, and never rejects
 * the whole.
 * @module
 */
import { DEFAULTS } from "../config.js";
import { CacheUsageError } from "../errors.js";
import type { CacheStatus } from "./request.js";

/** Where `$cache.warm(reads)` stands: passed to `onProgress` after each read. */
export interface WarmProgress {
  /** Reads finished so far (counted in one of `warmed`, `fresh`, `bypassed`, `failed`). */
  done: number;
  /** Reads in the list. */
  total: number;
  /** Reads whose entry was computed now (a miss, or a join of another caller's query) or is being refreshed (stale within `swr`). */
  warmed: number;
  /** Reads whose entry was already fresh in L1 or Redis: nothing was recomputed. */
  fresh: number;
  /** Reads the cache does not cache (`cache: false`, no ttl, a client it cannot see into): they ran, and nothing was stored. */
  bypassed: number;
  /** Reads that threw or rejected, or that left no fresh entry (see {@link WarmSummary.errors}). */
  failed: number;
}

/** One failed read of `$cache.warm(reads)`. */
export interface WarmError {
  /** Its index in `reads`. */
  index: number;
  /** What it threw or rejected with, or a {@link CacheUsageError} saying why it warmed nothing. */
  error: unknown;
}

/** What `$cache.warm(reads)` resolves to. */
export interface WarmSummary {
  /** Reads in the list. */
  total: number;
  /** Reads whose entry was computed now or is being refreshed. */
  warmed: number;
  /** Reads whose entry was already fresh: nothing was recomputed. */
  fresh: number;
  /** Reads the cache does not cache. */
  bypassed: number;
  /** Reads that failed; each is in `errors`. */
  failed: number;
  /** The failed reads, by index in `reads`, in the order they finished. */
  errors: WarmError[];
}

/** Options of `$cache.warm(reads, options)`. */
export interface WarmOptions {
  /**
   * Reads run at once: a positive integer.
   * @default 4
   */
  concurrency?: number;
  /**
   * Called after each read finishes, with where the warm-up stands. An
   * exception it throws is ignored.
   * @default undefined
   */
  onProgress?: (progress: WarmProgress) => void;
}

/** How a result returned by a read function was answered, or a rejection (the read's own error, or why it cannot tell). */
export type AnsweredBy = (result: unknown) => Promise<CacheStatus>;

/** How warm() counts a read answered with `status`. */
const COUNTED_AS: Record<CacheStatus, "warmed" | "fresh" | "bypassed" | "failed"> = {
  l1: "fresh",
  l2: "fresh",
  miss: "warmed",
  coalesced: "warmed",
  stale: "warmed",
  bypass: "bypassed",
  grace: "failed",
};

/**
 * Runs `reads` (functions returning cached reads) at most `concurrency` at
 * once; `answeredBy` runs each result and tells how it was answered.
 * @throws {CacheUsageError} (as a rejection) when `reads` is not an array of
 *   functions, or an option is malformed.
 */
export async function warmReads(reads: unknown, options: unknown, answeredBy: AnsweredBy): Promise<WarmSummary> {
  const where = "$cache.warm(reads, options)";
  if (!Array.isArray(reads)) throw new CacheUsageError(`${where}: reads must be an array of functions returning cached reads, got ${typeName(reads)}`);
  reads.forEach((r, i) => {
    if (typeof r !== "function")
      throw new CacheUsageError(`${where}: reads[${i}] must be a function returning a cached read (e.g. () => prisma.post.findMany(...)), got ${typeName(r)}`);
  });
  const { concurrency, onProgress } = checkOptions(where, options);
  const fns = reads as (() => unknown)[];
  const total = fns.length;
  const counts = { warmed: 0, fresh: 0, bypassed: 0, failed: 0 };
  const errors: WarmError[] = [];
  let done = 0;
  let next = 0;

  const finish = (as: keyof typeof counts, index: number, error?: unknown): void => {
    counts[as]++;
    if (as === "failed") errors.push({ index, error });
    done++;
    if (onProgress === undefined) return;
    try {
      onProgress({ done, total, ...counts });
    } catch {
      // A progress callback's failure is not the warm-up's.
    }
  };

  const one = async (index: number): Promise<void> => {
    try {
      const status = await answeredBy(fns[index]!());
      const as = COUNTED_AS[status];
      finish(as, index, as === "failed" ? new Error(`reads[${index}]: the database query failed, and a cached value was served within grace`) : undefined);
    } catch (error) {
      finish("failed", index, error);
    }
  };

  const worker = async (): Promise<void> => {
    while (next < total) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { total, ...counts, errors };
}

function checkOptions(where: string, options: unknown): { concurrency: number; onProgress: WarmOptions["onProgress"] } {
  if (options === undefined) return { concurrency: DEFAULTS.warmConcurrency, onProgress: undefined };
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new CacheUsageError(`${where}: options must be an object { concurrency?, onProgress? }, got ${typeName(options)}`);
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== "concurrency" && k !== "onProgress") throw new CacheUsageError(`${where}: unknown option "${k}" (allowed: concurrency, onProgress)`);
  }
  const { concurrency = DEFAULTS.warmConcurrency, onProgress } = o;
  if (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1)
    throw new CacheUsageError(`${where}: concurrency must be a positive integer, got ${typeof concurrency === "number" ? concurrency : typeName(concurrency)}`);
  if (onProgress !== undefined && typeof onProgress !== "function")
    throw new CacheUsageError(`${where}: onProgress must be a function, got ${typeName(onProgress)}`);
  return { concurrency, onProgress: onProgress as WarmOptions["onProgress"] };
}

/** A value's kind, for error messages. */
const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);
