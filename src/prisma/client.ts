/**
 * The client component: `$cache`, `$queryRawCached`, and Prisma's own
 * `$disconnect` and `$transaction` wrapped (closing the cache's connections;
 * bumping an interactive transaction's writes at its commit).
 * @module
 */
import type { Sql } from "@prisma/client/runtime/client";
import { DEFAULTS } from "../config.js";
import type { RawCacheOptions } from "../options.js";
import type { CacheRuntime } from "../runtime.js";
import { builtinMethod, extensionList, isTransactionClient, transactionId } from "./internals.js";
import { cacheInfo } from "../engine/info.js";
import { Bypass } from "../engine/bypass.js";
import { type CacheExplanation, explainBypass } from "../engine/explain.js";
import type { ReadPlan } from "../engine/request.js";
import { wrapFunction } from "../engine/wrap.js";
import { warmReads } from "../engine/warm.js";
import { answeredBy } from "./warm.js";
import { CacheUsageError } from "../errors.js";
import { OpCounters, RAW_MODEL } from "../stats.js";
import { CachedQuery, type ExplainingRunner, InfoQuery, type PrismaPromiseLike } from "./lazy.js";
import { admission, reportBypass } from "./model.js";
import { type ClientLike, rawLoad } from "./source.js";
import type { ClientProfile, Profiler } from "./profile.js";
import type { Transactions } from "./query.js";
import type { CacheClientApi, RawQueryMethod } from "./types.js";

/**
 * `$cache.explain(read)`: how `runtime` would answer a cached read, without
 * running it. Rejects with a {@link CacheUsageError} for anything but a
 * cached read of this cache, not yet awaited.
 */
async function explain(runtime: CacheRuntime, read: unknown): Promise<CacheExplanation> {
  const query = read instanceof InfoQuery ? read.query : read;
  if (!(query instanceof CachedQuery)) {
    const what = isPromiseLike(read) ? "a promise that is not a cached read (a write, an uncached Prisma query, or an awaited value)" : describeValue(read);
    throw new CacheUsageError(
      `$cache.explain(read): read must be a cached read as called, not awaited, e.g. prisma.post.findMany({ ... }) or prisma.$queryRawCached(sql, options); got ${what}`,
    );
  }
  const runner = query.runner as Partial<ExplainingRunner>;
  if (runner.runtime !== runtime || runner.explain === undefined) {
    throw new CacheUsageError(
      "$cache.explain(read): the read belongs to another cache (a client extended with another prismaCache(...)); explain it with that client's $cache",
    );
  }
  return runner.explain(query);
}

const isPromiseLike = (v: unknown): boolean => typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
const describeValue = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v);

/** The client component of the extension applied to `base`. */
export function createClientComponent(runtime: CacheRuntime, base: unknown, profiler: Profiler, openTransactions: Transactions) {
  const $transaction = builtinMethod(base, "$transaction");
  const $disconnect = builtinMethod(base, "$disconnect");
  const api: CacheClientApi = {
    invalidate: (target) => runtime.invalidate(target),
    invalidateAll: () => runtime.invalidateAll(),
    stats: () => runtime.snapshot(),
    resetStats: () => runtime.stats.reset(),
    ready: () => runtime.whenReady(),
    lastPublished: () => {
      const bus = runtime.bus;
      return bus && bus.lastSeq > 0 ? { instance: bus.instanceId, seq: bus.lastSeq } : undefined;
    },
    delivered: (from, options) =>
      runtime.bus ? runtime.bus.delivered(from.instance, from.seq, { timeoutMs: options?.timeoutMs ?? DEFAULTS.deliveredTimeout }) : Promise.resolve(),
    close: () => runtime.close(),
    on: (listener) => runtime.events.on(listener),
    explain: (read) => explain(runtime, read),
    wrap: (fn, options) => wrapFunction(runtime, fn, options),
    warm: (reads, options) => warmReads(reads, options, answeredBy),
  };

  /** The profile of the client a raw read was called on. */
  const profileOf = (client: ClientLike): ClientProfile => (isTransactionClient(client) ? profiler.transaction : profiler.ofList(extensionList(client)));
  /** Whether a raw read is cached, and its plan: the client's admission, then the planner's. Counts and reports nothing. */
  const decideRaw = (profile: ClientProfile, q: CachedQuery<unknown>, counters?: OpCounters): ReadPlan | Bypass => {
    const { sql, options } = q.args as { sql: Sql; options: RawCacheOptions };
    const prefix = profile.simple ? profile.prefix : admission(profile, undefined, "$queryRaw", "$queryRaw");
    if (typeof prefix !== "string") return prefix;
    return runtime.planner.decideRaw(sql, options, prefix, counters);
  };

  /** Runs `$queryRawCached` reads: `args` holds the SQL and the options. */
  const rawRunner: ExplainingRunner = {
    runtime,
    execute(q, outcome): Promise<unknown> {
      const client = q.ctx as ClientLike;
      const load = rawLoad(client, (q.args as { sql: Sql }).sql);
      const profile = profileOf(client);
      const plan = decideRaw(profile, q);
      if (!(plan instanceof Bypass)) return runtime.read(plan, load, profile.scoped, outcome);
      reportBypass(runtime, profile, plan, undefined, "$queryRaw", runtime.planner.rawCounters);
      return load();
    },
    explain(q): Promise<CacheExplanation> {
      const profile = profileOf(q.ctx as ClientLike);
      // Counters of its own: an explanation counts nothing.
      const plan = decideRaw(profile, q, new OpCounters(RAW_MODEL, "queryRaw"));
      return plan instanceof Bypass ? Promise.resolve(explainBypass(plan)) : runtime.explain(plan, profile.scoped);
    },
    direct(q): PrismaPromiseLike {
      const client = q.ctx as ClientLike;
      return (client.$queryRaw as (s: Sql) => PrismaPromiseLike)((q.args as { sql: Sql }).sql);
    },
    info: (outcome, value) => cacheInfo(runtime.planner, outcome, value, (key) => runtime.readPath.l1?.get(key)?.deps),
  };

  const client: Record<string, unknown> = {
    /** Invalidation and statistics of the tiered cache. */
    $cache: api,
    $queryRawCached(this: ClientLike, sql: Sql, options: RawCacheOptions): CachedQuery<unknown> {
      return new CachedQuery(rawRunner, this, "$queryRawCached", { sql, options }, undefined);
    },
  };
  if ($disconnect) {
    /** Prisma's `$disconnect`, after closing the cache's own connections. */
    client.$disconnect = async function (this: unknown) {
      await runtime.close();
      return $disconnect.call(this, undefined);
    };
  }
  if ($transaction) {
    /** Prisma's `$transaction`, plus a version bump after an interactive transaction commits. */
    client.$transaction = function (this: unknown, arg: unknown, options?: unknown) {
      if (typeof arg !== "function") return $transaction.call(this, arg, options);
      const toBump = new Set<string>();
      let id: unknown;
      const body = (tx: unknown) => {
        id = transactionId(tx);
        const outer = openTransactions.get(id);
        if (outer) return (arg as (t: unknown) => unknown)(tx); // nested: the outermost bumps at commit
        openTransactions.set(id, toBump);
        return (arg as (t: unknown) => unknown)(tx);
      };
      return (async () => {
        try {
          return await $transaction.call(this, body, options);
        } finally {
          if (openTransactions.get(id) === toBump) {
            openTransactions.delete(id);
            await runtime.writePath.bump([...toBump]);
          }
        }
      })();
    };
  }
  return client as { $cache: CacheClientApi; $queryRawCached: RawQueryMethod };
}
