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
import { CachedQuery, type PrismaPromiseLike, type QueryRunner } from "./lazy.js";
import { admit } from "./model.js";
import { type ClientLike, rawLoad } from "./source.js";
import type { Profiler } from "./profile.js";
import type { Transactions } from "./query.js";
import type { CacheClientApi, RawQueryMethod } from "./types.js";

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
  };

  /** Runs `$queryRawCached` reads: `args` holds the SQL and the options. */
  const rawRunner: QueryRunner = {
    execute(q, outcome): Promise<unknown> {
      const client = q.ctx as ClientLike;
      const { sql, options } = q.args as { sql: Sql; options: RawCacheOptions };
      const load = rawLoad(client, sql);
      const profile = isTransactionClient(client) ? profiler.transaction : profiler.ofList(extensionList(client));
      const prefix = profile.simple ? profile.prefix : admit(runtime, profile, undefined, "$queryRaw", "$queryRaw", runtime.planner.rawCounters);
      if (prefix === undefined) return load();
      const plan = runtime.planner.planRaw(sql, options, prefix);
      return plan ? runtime.read(plan, load, profile.scoped, outcome) : load();
    },
    direct(q): PrismaPromiseLike {
      const client = q.ctx as ClientLike;
      return (client.$queryRaw as (s: Sql) => PrismaPromiseLike)((q.args as { sql: Sql }).sql);
    },
    info: (outcome, value) => cacheInfo(runtime.planner, outcome, value, (key) => runtime.reads.l1?.get(key)?.deps),
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
      const written = new Set<string>();
      let id: unknown;
      const body = (tx: unknown) => {
        id = transactionId(tx);
        const outer = openTransactions.get(id);
        if (outer) return (arg as (t: unknown) => unknown)(tx); // nested: the outermost bumps at commit
        openTransactions.set(id, written);
        return (arg as (t: unknown) => unknown)(tx);
      };
      return (async () => {
        try {
          return await $transaction.call(this, body, options);
        } finally {
          if (openTransactions.get(id) === written) {
            openTransactions.delete(id);
            await runtime.writes.bump([...written]);
          }
        }
      })();
    };
  }
  return client as { $cache: CacheClientApi; $queryRawCached: RawQueryMethod };
}
