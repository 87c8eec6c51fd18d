/**
 * What bench/cases/stampede.ts and its child processes
 * (bench/lib/stampede-child.ts) share: the IPC messages, the child's
 * configuration and the measured query.
 * @module
 */
import type { QueryInfo } from "../../test/support/counting-adapter";

/** The variants, by id (see bench/cases/stampede.ts). */
export type StampedeVariant = "ptc" | "ptcNoLock" | "uncached" | "per";

/** argv[2] of the child, as JSON. */
export interface StampedeChildConfig {
  databaseUrl: string;
  redisUrl: string;
  /** Which build of the library to load (as bench/lib/library.ts). */
  library: "build" | "src";
  /** Concurrent reads per burst in this process. */
  reads: number;
  /** Cache TTL in seconds, the same for every cached variant. */
  ttl: number;
  /** Redis namespace (prisma-tiered-cache) or key prefix (prisma-extension-redis) per cached variant. */
  namespaces: { ptc: string; ptcNoLock: string; per: string };
}

/** Parent → child. */
export type StampedeCommand = { type: "burst"; variant: StampedeVariant; bound: number; at: number } | { type: "exit" };

/** Child → parent. */
export type StampedeMessage =
  | {
      type: "ready";
      pid: number;
      /** Variants this process cannot run, with the reason (e.g. prisma-extension-redis failed to load). */
      unavailable: Partial<Record<StampedeVariant, string>>;
    }
  | {
      type: "done";
      variant: StampedeVariant;
      bound: number;
      /** Per-call latency, ms, in call order. */
      latenciesMs: number[];
      /** Epoch ms at which the first call started (to check the processes started together). */
      startedAt: number;
      /** SELECTs on the queried table that reached the driver adapter during the burst. */
      selects: number;
      /** Every statement the adapter saw during the burst. */
      statements: number;
      /** Distinct results (as JSON) the burst's calls resolved with. */
      distinct: string[];
      /** Calls that rejected, with the first error. */
      failed: number;
      firstError?: string;
      /** The variant's own counters for the burst, where it has them. */
      counters?: Record<string, number>;
    }
  | { type: "error"; message: string };

/** The measured query: a `groupBy` over every Post row (a sequential scan), keyed by `bound` so that each burst has a cold key. */
export function stampedeArgs(bound: number) {
  return {
    by: ["published"] as "published"[],
    where: { views: { gte: bound } },
    _count: { _all: true as const },
    _sum: { views: true as const },
    _avg: { views: true as const },
    _max: { createdAt: true as const },
    orderBy: { published: "asc" as const },
  };
}

/** The statements a burst's query sends: SELECTs on the Post table. */
export const isTargetQuery = (q: QueryInfo): boolean => q.kind === "query" && /^\s*select\b/i.test(q.sql) && q.sql.includes('"Post"');
