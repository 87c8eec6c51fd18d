/**
 * One process of the change feed example (main.ts): a cached client with
 * `changeFeed` on the example's namespace. It reads one user over and over
 * (from its cache, after the first read), and tells the parent what it read
 * each time the name changes, with how long after `since` (ms since the
 * epoch, sent by the parent when it wrote).
 * @module
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { prismaCache } from "../../src/index";

const [databaseUrl, redisUrl, namespace, userId] = process.argv.slice(2) as [string, string, string, string];
const redis = new Redis(redisUrl);
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }).$extends(
  prismaCache({ redis, namespace, ttl: 300, changeFeed: { url: databaseUrl, lease: 2_000 } }),
);

let since = 0;
let last: string | null | undefined;
process.on("message", async (m: { type: "write"; at: number } | { type: "exit" }) => {
  if (m.type === "write") since = m.at;
  if (m.type === "exit") {
    await prisma.$disconnect();
    redis.disconnect();
    process.exit(0);
  }
});

await prisma.$cache.ready();
for (;;) {
  const { data, info } = await prisma.user.findUnique({ where: { id: Number(userId) } }).withCacheInfo();
  if (data?.name !== last) {
    process.send?.({
      type: "read",
      name: data?.name,
      status: info.status,
      after: since ? Date.now() - since : undefined,
      feed: prisma.$cache.stats().feed?.status,
    });
    last = data?.name;
  }
  await new Promise((r) => setTimeout(r, 5));
}
