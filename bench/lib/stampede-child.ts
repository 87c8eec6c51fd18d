/**
 * One OS process of the `stampede` benchmark (bench/cases/stampede.ts), run
 * with `node --import tsx bench/lib/stampede-child.ts '<config json>'` and
 * driven over IPC.
 *
 * It opens its own PrismaClient (adapter-pg through the counting adapter of
 * test/support/counting-adapter.ts, so every statement is counted at the
 * driver) and its own Redis connection, and builds one client per variant
 * on top of them. Protocol:
 *   - child → parent `{ type: "ready" }` once every client is built;
 *   - parent → child `{ type: "burst", variant, bound, at }`: at wall-clock
 *     time `at` (epoch ms), fire `reads` concurrent identical reads of the
 *     variant's query with `bound` (a fresh key), timing each call from its
 *     start to its resolution; child → parent `{ type: "done", ... }`;
 *   - parent → child `{ type: "exit" }`: close everything and exit.
 * @module
 */
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { createCountingAdapter } from "../../test/support/counting-adapter";
import { loadLibrary, type Library } from "./library";
import { isTargetQuery, stampedeArgs, type StampedeChildConfig, type StampedeCommand, type StampedeMessage, type StampedeVariant } from "./stampede-protocol";

const send = (message: StampedeMessage) => process.send?.(message);

/** Builds the prisma-extension-redis client over `base`, or says why it cannot. */
async function perClient(base: PrismaClient, redis: Redis, config: StampedeChildConfig) {
  const { createMetricsCollector, PrismaExtensionRedis } = await import("prisma-extension-redis");
  const metrics = createMetricsCollector();
  // As its README configures it: auto-caching of the model, the same ttl, no stale window,
  // STRING storage (the bench Redis may lack RedisJSON), a key prefix of this run.
  const client = base.$extends(
    PrismaExtensionRedis({
      config: {
        ttl: config.ttl,
        stale: 0,
        type: "STRING",
        cacheKey: { prefix: config.namespaces.per },
        auto: { includedModels: ["Post"], ttl: config.ttl, stale: 0 },
        metricsCollector: metrics,
      },
      client: redis,
    }),
  );
  return { client, metrics };
}

/**
 * Sleeps until epoch ms `at`, so that all processes start together. A timer
 * only: a spin for the last milliseconds would take a core from the other
 * processes on a small machine and delay them.
 */
async function until(at: number): Promise<void> {
  const wait = at - (performance.timeOrigin + performance.now());
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

async function main(config: StampedeChildConfig): Promise<void> {
  const lib: Library = await loadLibrary(config.library);
  const { adapter, counter } = createCountingAdapter(config.databaseUrl);
  const base = new PrismaClient({ adapter });
  const redis = new Redis(config.redisUrl);

  const ptc = base.$extends(lib.prismaCache({ redis, ttl: config.ttl, namespace: config.namespaces.ptc }));
  const ptcNoLock = base.$extends(lib.prismaCache({ redis, ttl: config.ttl, namespace: config.namespaces.ptcNoLock, lock: false }));
  const unavailable: Partial<Record<StampedeVariant, string>> = {};
  const per = await perClient(base, redis, config).catch((e: unknown) => {
    unavailable.per = `prisma-extension-redis could not be loaded or configured: ${e instanceof Error ? e.message : String(e)}`;
    return undefined;
  });
  await Promise.all([base.$connect(), ptc.$cache.ready(), ptcNoLock.$cache.ready()]);

  const calls: Record<StampedeVariant, (bound: number) => PromiseLike<unknown>> = {
    ptc: (bound) => ptc.post.groupBy(stampedeArgs(bound)),
    ptcNoLock: (bound) => ptcNoLock.post.groupBy(stampedeArgs(bound)),
    uncached: (bound) => base.post.groupBy(stampedeArgs(bound)),
    per: (bound) => {
      if (!per) throw new Error(unavailable.per);
      return per.client.post.groupBy(stampedeArgs(bound));
    },
  };
  const ptcClients = { ptc, ptcNoLock } as const;

  const burst = async (variant: StampedeVariant, bound: number, at: number): Promise<StampedeMessage> => {
    const ptcClient = variant === "ptc" || variant === "ptcNoLock" ? ptcClients[variant] : undefined;
    ptcClient?.$cache.resetStats();
    per?.metrics.reset();
    counter.reset();
    const call = calls[variant];
    const latencies = new Float64Array(config.reads);
    const results: unknown[] = new Array(config.reads);
    let failed = 0;
    let firstError: string | undefined;
    await until(at);
    const startedAt = performance.timeOrigin + performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < config.reads; i++) {
      const t0 = process.hrtime.bigint();
      // Prisma promises are lazy: `.then` starts the read now.
      pending.push(
        Promise.resolve(call(bound)).then(
          (r) => {
            latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
            results[i] = r;
          },
          (e: unknown) => {
            latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
            failed++;
            firstError ??= String(e);
          },
        ),
      );
    }
    await Promise.all(pending);
    const log = counter.log;
    const counters: Record<string, number> | undefined = ptcClient
      ? (({ hits, misses, coalesced, leaseWaits, leaseTimeouts, fills, fillsRefused, redisErrors }) => ({
          l1Hits: hits.l1,
          l2Hits: hits.l2,
          misses,
          coalesced,
          leaseWaits,
          leaseTimeouts,
          fills,
          fillsRefused,
          redisErrors,
        }))(ptcClient.$cache.stats())
      : variant === "per" && per
        ? (({ hits, misses, staleHits, errors }) => ({ hits, misses, staleHits, errors }))(per.metrics.getMetrics())
        : undefined;
    return {
      type: "done",
      variant,
      bound,
      latenciesMs: Array.from(latencies),
      startedAt,
      selects: log.filter(isTargetQuery).length,
      statements: log.length,
      distinct: [...new Set(results.filter((r) => r !== undefined).map((r) => JSON.stringify(r)))],
      failed,
      ...(firstError !== undefined ? { firstError } : {}),
      ...(counters ? { counters } : {}),
    };
  };

  let closing = false;
  const exit = () => {
    if (closing) return;
    closing = true;
    // Whatever hangs, the process is gone within 5 s.
    setTimeout(() => process.exit(0), 5_000).unref();
    void (async () => {
      await Promise.allSettled([ptc.$cache.close(), ptcNoLock.$cache.close()]);
      await base.$disconnect().catch(() => undefined);
      redis.disconnect();
      await lib.dispose().catch(() => undefined);
      process.exit(0);
    })();
  };
  process.on("message", (command: StampedeCommand) => {
    if (command.type === "exit") return exit();
    burst(command.variant, command.bound, command.at).then(send, (e: unknown) => send({ type: "error", message: String(e) }));
  });
  // Exit with the parent, whatever happens to it.
  process.on("disconnect", exit);
  send({ type: "ready", pid: process.pid, unavailable });
}

const config = JSON.parse(process.argv[2] ?? "{}") as StampedeChildConfig;
main(config).catch((error: unknown) => {
  send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
