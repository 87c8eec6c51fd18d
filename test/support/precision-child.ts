/**
 * A separate OS process for the randomized precision test
 * (test/integration/precision-random.test.ts), run with
 * `node --import tsx test/support/precision-child.ts '<config>'` and driven
 * over IPC, one operation at a time.
 *
 * It builds its own cached client (own Prisma client, own Redis connections,
 * own L1) on the namespace it is given, and answers:
 * - `{ type: "op", seq, op, after }`: waits until this process has applied
 *   the bump `after` of the other process (if given), runs the op
 *   (precision-ops.ts) and replies `{ type: "done", seq, outcome, bump, hit }`,
 *   `bump` being the last bump this process published and `hit` whether
 *   the op was answered from the cache;
 * - `{ type: "stats" }`: replies `{ type: "stats", stats }`;
 * - `{ type: "exit" }`: closes its clients and exits.
 */
import { prismaCache, type BumpId } from "../../src/index";
import { newPrismaClient } from "./clients";
import { decodeOp, runOp } from "./precision-ops";
import { driverAdapter, kindOf } from "./providers";
import { closeRedis, connectRedis } from "./redis-client";

interface Config {
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
}

type Command = { type: "op"; seq: number; op: string; after?: BumpId } | { type: "stats" } | { type: "exit" };

const send = (message: unknown) => process.send?.(message);

async function main(config: Config): Promise<void> {
  const redis = connectRedis(config.redisUrl, { maxRetriesPerRequest: 1 });
  const base = newPrismaClient(kindOf(config.databaseUrl), { adapter: driverAdapter(config.databaseUrl) });
  // redisTimeout above the default: two children and the test share two cores.
  const prisma = base.$extends(prismaCache({ redis, namespace: config.namespace, ttl: 60, redisTimeout: 5_000 }));
  await prisma.$connect();
  await prisma.$cache.ready();

  const hits = () => {
    const { l1, l2 } = prisma.$cache.stats().hits;
    return l1 + l2;
  };

  // One command at a time, in the order they came.
  let queue = Promise.resolve();
  process.on("message", (command: Command) => {
    queue = queue.then(async () => {
      if (command.type === "exit") {
        await prisma.$disconnect();
        closeRedis(redis);
        process.exit(0);
      }
      if (command.type === "stats") return void send({ type: "stats", stats: prisma.$cache.stats() });
      if (command.after) await prisma.$cache.delivered(command.after, { timeoutMs: 10_000 });
      const before = hits();
      const outcome = await runOp(prisma, decodeOp(command.op));
      send({ type: "done", seq: command.seq, outcome, bump: prisma.$cache.lastPublished(), hit: hits() > before });
    });
    queue = queue.catch((error: unknown) => void send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
  });
  send({ type: "ready" });
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
main(config).catch((error: unknown) => {
  send({ type: "error", message: String(error) });
  process.exit(1);
});
