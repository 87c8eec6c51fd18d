/**
 * A separate OS process that runs the change feed, for the tests that kill
 * its consumer (test/integration/feed-kill.test.ts). Run with
 * `node --import tsx test/support/feed-child.ts '<config>'`.
 *
 * It builds a cached client with `changeFeed` on the namespace it is given
 * and sends `{ type: "status", status, applied }` whenever its feed's
 * status or count of applied changes moves. With `pauseAt`, its Redis
 * client holds the first bump script that names `pauseOn` (a dependency
 * id), and sends `{ type: "paused" }`:
 * - `received`: before the script reaches Redis (the change was read, not applied);
 * - `bumped`: after Redis ran it, before its reply reaches the consumer (applied, not acknowledged).
 * The test then kills the process.
 */
import { Redis } from "ioredis";
import { prismaCache } from "../../src/index";
import { newPrismaClient } from "./clients";
import { driverAdapter, kindOf } from "./providers";

interface Config {
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
  lease: number;
  pauseAt?: "received" | "bumped";
  pauseOn?: string;
}

const send = (message: unknown) => process.send?.(message);
const never = new Promise<never>(() => undefined);

/** Holds the first bump script naming `dep`, before or after Redis runs it. */
function pausing(redis: Redis, at: "received" | "bumped", dep: string): void {
  const evalsha = redis.evalsha.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  let paused = false;
  (redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> }).evalsha = async (...args: unknown[]) => {
    if (paused || !args.some((a) => typeof a === "string" && a.endsWith(`:v:${dep}`))) return evalsha(...args);
    paused = true;
    if (at === "bumped") await evalsha(...args);
    send({ type: "paused" });
    return never;
  };
}

async function main(config: Config): Promise<void> {
  // ioredis: the pause wraps its evalsha (the feed's suites run with the default client only).
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  if (config.pauseAt && config.pauseOn) pausing(redis, config.pauseAt, config.pauseOn);
  const base = newPrismaClient(kindOf(config.databaseUrl), { adapter: driverAdapter(config.databaseUrl) });
  const prisma = base.$extends(
    prismaCache({ redis, namespace: config.namespace, ttl: 60, redisTimeout: 5_000, changeFeed: { url: config.databaseUrl, lease: config.lease } }),
  );
  await prisma.$connect();
  let last = "";
  const report = () => {
    const feed = prisma.$cache.stats().feed;
    const now = `${feed?.status}/${feed?.applied}`;
    if (now !== last) send({ type: "status", status: feed?.status, applied: feed?.applied });
    last = now;
  };
  setInterval(report, 10);
  process.on("message", async (m: { type: string }) => {
    if (m.type !== "exit") return;
    await prisma.$disconnect();
    redis.disconnect();
    process.exit(0);
  });
}

main(JSON.parse(process.argv[2] ?? "{}") as Config).catch((err) => {
  console.error(err);
  process.exit(1);
});
