/**
 * A child process for the change-feed group: a cached client (one build of
 * the library, from the URL it is given) in the parent's namespace, without
 * the feed. On `{ type: "prime", id }` it reads post `id` until the read is
 * served from its cache, and answers `{ type: "primed" }`; on
 * `{ type: "watch", id, views }` it reads the post over and over (each read
 * from its cache until a bump reaches it) until `views` shows, and answers
 * `{ type: "seen", at }`: the time it saw it, in ms on the clock of
 * `performance.timeOrigin + performance.now()` (the same in every process).
 * Run with `node --import tsx bench/lib/feed-reader-child.ts '<config>'`.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";

interface Config {
  indexUrl: string;
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
}

type Command = { type: "prime"; id: number } | { type: "watch"; id: number; views: number } | { type: "exit" };

const config = JSON.parse(process.argv[2]!) as Config;
const { prismaCache } = (await import(config.indexUrl)) as { prismaCache: (o: object) => (c: unknown) => unknown };
const redis = new Redis(config.redisUrl);
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: config.databaseUrl }) });
const cached = base.$extends(prismaCache({ redis, namespace: config.namespace, ttl: 600 }) as never) as unknown as PrismaClient & {
  $cache: { stats(): { hits: { l1: number; l2: number } }; ready(): Promise<void> };
};
await cached.$cache.ready();
const now = () => performance.timeOrigin + performance.now();
const hits = () => cached.$cache.stats().hits.l1;
/** Yields to I/O between reads: the bus's messages must get in. */
const turn = () => new Promise((r) => setImmediate(r));

process.on("message", async (c: Command) => {
  if (c.type === "exit") {
    await base.$disconnect();
    redis.disconnect();
    process.exit(0);
  }
  if (c.type === "prime") {
    for (;;) {
      const before = hits();
      await cached.post.findUnique({ where: { id: c.id } });
      if (hits() > before) break;
      await turn();
    }
    process.send!({ type: "primed" });
    return;
  }
  for (;;) {
    const row = await cached.post.findUnique({ where: { id: c.id } });
    if (row?.views === c.views) break;
    await turn();
  }
  process.send!({ type: "seen", at: now() });
});
process.send!({ type: "ready" });
