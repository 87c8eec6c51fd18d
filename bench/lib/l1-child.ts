/**
 * A child process for the isolation group: loads one build of the library
 * (from the URL it is given), answers one `findUnique` by id from L1 over and
 * over, and sends back every timed call's duration in nanoseconds. Run with
 * `node --import tsx bench/lib/l1-child.ts '<config>'`. Each build runs in
 * processes of its own, so that neither build's code shapes how V8 compiles
 * the other's (or Prisma's) hot path.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";

interface Config {
  indexUrl: string;
  databaseUrl: string;
  id: number;
  warmup: number;
  iterations: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const { prismaCache } = (await import(config.indexUrl)) as { prismaCache: (o: object) => (c: unknown) => unknown };
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: config.databaseUrl }) });
const cached = base.$extends(prismaCache({ ttl: 60 }) as never) as unknown as PrismaClient & { $cache: { stats(): { hits: { l1: number } } } };
try {
  const where = { where: { id: config.id } };
  await cached.customer.findUnique(where);
  for (let i = 0; i < config.warmup; i++) await cached.customer.findUnique(where);
  const before = cached.$cache.stats().hits.l1;
  const ns: number[] = [];
  for (let i = 0; i < config.iterations; i++) {
    const t0 = process.hrtime.bigint();
    await cached.customer.findUnique(where);
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  process.send!({ ns, l1Hits: cached.$cache.stats().hits.l1 - before });
} finally {
  await base.$disconnect();
}
