// What both consumers do once they have loaded prisma-tiered-cache (the ESM
// consumer with `import`, the CJS one with `require`): a read that misses, the
// same read from L1, the same read from Redis in a second cache without L1, a
// write, and a read that sees it. Prints one JSON line for the test.
// Environment: DATABASE_URL, REDIS_URL, PTC_NAMESPACE, PTC_CLIENT (the
// bundled generated client), PTC_FLAVOR (a tag for the row's email).
import { pathToFileURL } from "node:url";

/**
 * @param {{ prismaCache: Function }} cache the library's exports, however loaded
 * @param {{ PrismaPg: Function }} adapterPg `@prisma/adapter-pg`
 * @param {{ Redis: Function }} ioredis `ioredis`
 * @param {string} resolved the file the library was loaded from
 */
export async function run(cache, adapterPg, ioredis, resolved) {
  const { DATABASE_URL, REDIS_URL, PTC_NAMESPACE, PTC_CLIENT, PTC_FLAVOR } = process.env;
  const { PrismaClient } = await import(pathToFileURL(PTC_CLIENT).href);
  const redis = new ioredis.Redis(REDIS_URL);
  const base = new PrismaClient({ adapter: new adapterPg.PrismaPg({ connectionString: DATABASE_URL }) });
  const prisma = base.$extends(cache.prismaCache({ redis, namespace: PTC_NAMESPACE, ttl: 60 }));
  const l2Only = base.$extends(cache.prismaCache({ redis, namespace: PTC_NAMESPACE, ttl: 60, l1: false }));
  const counts = (s) => ({ l1: s.hits.l1, l2: s.hits.l2, misses: s.misses });
  try {
    // L1 serves once the process hears other processes' bumps.
    await Promise.all([prisma.$cache.ready(), l2Only.$cache.ready()]);
    const { id } = await base.user.create({ data: { email: `${PTC_FLAVOR}@example.com`, name: "before" } });
    const read = (client) => client.user.findUnique({ where: { id }, select: { name: true } });
    const steps = [];
    const step = async (name, client, work) => {
      const value = await work();
      steps.push({ name, value, stats: counts(client.$cache.stats()) });
    };
    await step("miss", prisma, () => read(prisma));
    await step("hit", prisma, () => read(prisma));
    await step("l2", l2Only, () => read(l2Only));
    await step("write", prisma, () => prisma.user.update({ where: { id }, data: { name: "after" }, select: { name: true } }));
    await step("after-write", prisma, () => read(prisma));
    await step("l2-after-write", l2Only, () => read(l2Only));
    process.stdout.write(`${JSON.stringify({ resolved, steps })}\n`);
  } finally {
    await prisma.$disconnect();
    await l2Only.$disconnect();
    redis.disconnect();
  }
}
