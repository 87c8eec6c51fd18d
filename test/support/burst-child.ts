/**
 * A separate OS process for the dogpile tests, run with
 * `node --import tsx test/support/burst-child.ts` and driven over IPC.
 *
 * It builds its own cached client (own Prisma client, own Redis connections,
 * own L1), then on a "burst" message fires `reads` concurrent identical reads
 * of `userId`, holding its database SELECT of that row at a gate until told to
 * release it. It reports, in order: "ready", "holding" (its SELECT reached the
 * gate, so it holds the lease), "lease-wait" (it waits for another process's
 * lease), and "done" with the SELECTs it sent and the results it got.
 */
import { closeRedis, connectRedis } from "./redis-client";
import { prismaCache } from "../../src/index";
import { newPrismaClient } from "./clients";
import { createCountingAdapter, mentionsTable } from "./counting-adapter";
import { kindOf } from "./providers";

interface Config {
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
  userId: number;
  reads: number;
  lockTtl?: number;
}

type Command = { type: "burst" } | { type: "release" } | { type: "exit" };

const send = (message: unknown) => process.send?.(message);

async function main(config: Config): Promise<void> {
  const { adapter, counter } = createCountingAdapter(config.databaseUrl);
  const redis = connectRedis(config.redisUrl);
  const prisma = newPrismaClient(kindOf(config.databaseUrl), { adapter }).$extends(
    // redisTimeout well above the default: on a loaded 2-core machine four children starting at once can take longer
    // than 500 ms for a command, and a lease command that times out reads as "no lease" (a second query).
    prismaCache({
      redis,
      namespace: config.namespace,
      ttl: 60,
      redisTimeout: 5_000,
      lock: { ttl: config.lockTtl ?? 10_000, wait: Math.max(20_000, config.lockTtl ?? 0) },
    }),
  );
  // Connected before "ready", as a warm app is: adapter-mariadb's connect() opens a pool and asks the
  // server's version, which would otherwise run after the lease is taken, inside its TTL.
  await prisma.$connect();
  await prisma.$cache.ready();
  const isTarget = (sql: string) => /select/i.test(sql) && mentionsTable(sql, "User");
  const gate = counter.gate((q) => q.kind === "query" && isTarget(q.sql));
  void gate.opened.then(() => send({ type: "holding" }));
  prisma.$cache.on((e) => {
    if (e.type === "lease-wait") send({ type: "lease-wait" });
    // Every event goes to the test too, which prints them if the burst does not finish.
    send({ type: "event", event: JSON.stringify(e, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) });
  });

  process.on("message", (command: Command) => {
    if (command.type === "release") gate.release();
    if (command.type === "exit") {
      void prisma.$disconnect().finally(() => {
        closeRedis(redis);
        process.exit(0);
      });
    }
    if (command.type !== "burst") return;
    counter.reset();
    void Promise.all(Array.from({ length: config.reads }, () => prisma.user.findUnique({ where: { id: config.userId } }))).then(
      (results) => {
        const distinct = new Set(results.map((r) => JSON.stringify(r)));
        send({
          type: "done",
          selects: counter.log.filter((q) => q.kind === "query" && isTarget(q.sql)).length,
          results: results.length,
          distinct: [...distinct],
          stats: prisma.$cache.stats(),
        });
      },
      (error: unknown) => send({ type: "error", message: String(error) }),
    );
  });
  send({ type: "ready" });
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
main(config).catch((error: unknown) => {
  send({ type: "error", message: String(error) });
  process.exit(1);
});
