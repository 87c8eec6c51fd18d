/**
 * Prometheus metrics of prisma-tiered-cache, through prom-client. Copy this
 * file into your app:
 *
 * ```ts
 * import { Registry } from "prom-client";
 * const registry = new Registry();
 * registerCacheMetrics(prisma.$cache, { registry });
 * // GET /metrics: res.setHeader("content-type", registry.contentType); res.end(await registry.metrics());
 * ```
 *
 * Every metric is read from `prisma.$cache.stats()` when it is scraped (a
 * prom-client `collect()` callback), so nothing is counted twice and the
 * read path pays nothing. The stats are cumulative counters; a
 * `$cache.resetStats()` shows as a counter reset, which `rate()` handles.
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { BypassReason, CacheStats, OperationStats } from "../../src/index"; // in your app: from "prisma-tiered-cache"

/** The fields of {@link CacheStats} that are plain counters. */
type CountField = { [K in keyof CacheStats]-?: CacheStats[K] extends number ? K : never }[keyof CacheStats];

/**
 * Every plain counter of `stats()` but `bypasses` (the sum of the
 * `bypasses_total{reason}` series): its metric name after the prefix, and
 * its help text. A `Record`, so that a counter added to `CacheStats` is a
 * compile error here until it is given a metric.
 */
const COUNTERS: Record<Exclude<CountField, "bypasses">, readonly [name: string, help: string]> = {
  misses: ["misses_total", "Cacheable reads that went to the database."],
  fills: ["fills_total", "Entries stored after a miss."],
  fillsRefused: ["fills_refused_total", "Fills refused because a dependency changed while the query ran."],
  coalesced: ["coalesced_total", "Reads that joined another caller's in-flight query for the same key."],
  staleServed: ["stale_served_total", "Values served past their ttl within swr."],
  backgroundRefreshes: ["background_refreshes_total", "Background refreshes started (stale hits and early refreshes)."],
  earlyRefreshes: ["early_refreshes_total", "Hits picked for a probabilistic early refresh."],
  leaseWaits: ["lease_waits_total", "Misses that waited for another process's regeneration lease."],
  leaseTimeouts: ["lease_timeouts_total", "Lease waits that ran out before the holder released."],
  graceServed: ["grace_served_total", "Cached values served because the database query failed, within grace."],
  invalidations: ["invalidations_total", "Version bumps issued by writes and by $cache.invalidate*."],
  redisErrors: ["redis_errors_total", "Redis commands that failed or timed out."],
  busErrors: ["bus_errors_total", "Failures of the invalidation bus."],
  remoteBumps: ["remote_bumps_total", "Bumps received from other processes on the bus."],
  l1Flushes: ["l1_flushes_total", "Times L1 was flushed because the bus may have missed messages."],
  corruptEntries: ["corrupt_entries_total", "Entries found in Redis that could not be decoded."],
  audits: ["audits_total", "Hits the staleness audit read again from the database."],
  staleDetected: ["stale_detected_total", "Audited hits that differed from the database with no bump to explain it."],
  warmed: ["warmed_total", "Entries loaded into L1 from Redis at start (warm: { top })."],
};

/** One `[labels, value]` per model and operation read so far, from `stats().byModel`. */
function byOperation(s: CacheStats, read: (o: OperationStats) => number): Array<[{ model: string; operation: string }, number]> {
  return Object.entries(s.byModel).flatMap(([model, operations]) =>
    Object.entries(operations).map(([operation, o]): [{ model: string; operation: string }, number] => [{ model, operation }, read(o)]),
  );
}

/** What {@link registerCacheMetrics} reads: `prisma.$cache`, or anything with its `stats()`. */
export interface CacheStatsSource {
  /** The cache's counters, as `prisma.$cache.stats()` returns them. */
  stats(): CacheStats;
}

/** Options of {@link registerCacheMetrics}. */
export interface CacheMetricsOptions {
  /** The registry to register with. */
  registry: Registry;
  /**
   * Prefix of every metric name.
   * @default "prisma_cache_"
   */
  prefix?: string;
}

/**
 * Registers the cache's counters with `registry`: `<prefix>hits_total{tier="l1"|"l2"}`,
 * `<prefix>bypasses_total{reason}` (one series per {@link BypassReason}), and
 * one `<prefix><name>_total` per other counter of `stats()` (`misses_total`,
 * `fills_total`, `fills_refused_total`, `coalesced_total`, ...), each at 0
 * from the first scrape on; and, from `stats().byModel`, hits by tier,
 * misses, fills, refused fills and bypasses per model and operation
 * (`<prefix>operation_hits_total{model="User",operation="findUnique",tier="l1"}`, ...),
 * for the models and operations read so far; and the gauges
 * `<prefix>l1_entries` and `<prefix>l1_bytes`.
 * @returns the registered counters, by metric name.
 * @throws prom-client's error if a metric of the same name is already registered.
 */
export function registerCacheMetrics(cache: CacheStatsSource, { registry, prefix = "prisma_cache_" }: CacheMetricsOptions): Map<string, Counter> {
  const metrics = new Map<string, Counter>();
  /** A counter that takes the values `read` gives on every scrape. */
  const counter = <L extends string>(name: string, help: string, labelNames: L[], read: (s: CacheStats) => Array<[Partial<Record<L, string>>, number]>) => {
    const metric: Counter<L> = new Counter<L>({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        // A counter has no set(): start from zero and add the current value.
        metric.reset();
        for (const [labels, value] of read(cache.stats())) metric.inc(labels, value);
      },
    });
    metrics.set(prefix + name, metric as Counter);
  };

  counter("hits_total", "Reads answered from a cache tier (l1: in-process, l2: Redis).", ["tier"], (s) => [
    [{ tier: "l1" }, s.hits.l1],
    [{ tier: "l2" }, s.hits.l2],
  ]);
  counter("bypasses_total", "Reads that skipped the cache, by reason.", ["reason"], (s) =>
    (Object.entries(s.bypassReasons) as Array<[BypassReason, number]>).map(([reason, n]) => [{ reason }, n]),
  );
  // By model and operation (`stats().byModel`), under names of their own, so that summing them never counts twice.
  counter("operation_hits_total", "Reads answered from a cache tier, by model and operation.", ["model", "operation", "tier"], (s) =>
    byOperation(s, (o) => o.hits.l1)
      .map(([labels, n]): [Record<string, string>, number] => [{ ...labels, tier: "l1" }, n])
      .concat(byOperation(s, (o) => o.hits.l2).map(([labels, n]) => [{ ...labels, tier: "l2" }, n])),
  );
  counter("operation_misses_total", "Cacheable reads that went to the database, by model and operation.", ["model", "operation"], (s) =>
    byOperation(s, (o) => o.misses),
  );
  counter("operation_fills_total", "Entries stored, by model and operation.", ["model", "operation"], (s) => byOperation(s, (o) => o.fills));
  counter("operation_fills_refused_total", "Fills refused, by model and operation.", ["model", "operation"], (s) => byOperation(s, (o) => o.fillsRefused));
  counter("operation_bypasses_total", "Reads that skipped the cache, by model and operation.", ["model", "operation"], (s) =>
    byOperation(s, (o) => o.bypasses),
  );
  for (const [field, [name, help]] of Object.entries(COUNTERS) as Array<[CountField, readonly [string, string]]>)
    counter(name, help, [], (s) => [[{}, s[field]]]);
  // What this process's L1 holds now: gauges.
  const gauges: Array<[string, string, (s: CacheStats) => number]> = [
    ["l1_entries", "Entries in this process's L1.", (s) => s.l1.entries],
    ["l1_bytes", "Approximate bytes in this process's L1.", (s) => s.l1.bytes],
  ];
  for (const [name, help, read] of gauges) {
    const gauge: Gauge = new Gauge({
      name: prefix + name,
      help,
      registers: [registry],
      collect() {
        gauge.set(read(cache.stats()));
      },
    });
  }
  return metrics;
}
