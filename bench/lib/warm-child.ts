/**
 * One process of the warm-start group (bench/cases/warm-start.ts), run with
 * `node --import tsx bench/lib/warm-child.ts '<config json>'`: it loads the
 * library from the URL it is given, builds a cached client on its own
 * Redis connection, plays its role, sends one message with what it
 * measured, and exits. Roles:
 *   - `seed`: reads every key once (so that Redis holds every entry), then
 *     `reads` reads of the zipf mix, counted by sampling (`warm`);
 *   - `top`: starts with `warm: { top }`, waits for `$cache.ready()` (the
 *     warm start), then times the first `reads` reads of the mix;
 *   - `warm`: reads every key once (JIT and L1 warm), then times them;
 *   - `cold`: no warm start: times its first `reads` reads.
 * Each read is timed from its call to its resolution with
 * `process.hrtime.bigint()`.
 * @module
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { mulberry32 } from "../../test/support/prng";
import { shuffled, zipf } from "./sequence";

/** What the parent passes. */
export interface WarmChildConfig {
  indexUrl: string;
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
  role: "seed" | "top" | "warm" | "cold";
  /** Ids of the User rows; key k reads user `userIds[k % n]`, or (k % 4 = 3) the posts of user `userIds[k >> 2]`. */
  userIds: number[];
  /** Distinct reads in the mix. */
  keys: number;
  /** Zipf exponent of the mix. */
  exponent: number;
  /** Seed of the sequence of reads; the mapping from zipf ranks to keys is fixed. */
  seed: number;
  /** Reads played (`seed`) or timed (others). */
  reads: number;
  /** `warm.top` of the processes that count and load. */
  top: number;
  /** Entry ttl, seconds. */
  ttl: number;
}

/** What a child sends back. */
export interface WarmChildResult {
  /** Each timed read's duration, ns (empty for `seed`). */
  ns: number[];
  /** Of the timed reads: served by L1, by L2, by the database. */
  l1: number;
  l2: number;
  misses: number;
  /** `stats().warmed`: entries the warm start loaded. */
  warmed: number;
  /** Milliseconds from the client's creation to `$cache.ready()`. */
  readyMs: number;
  /** Members of the namespace's hot set when the child finished. */
  hotMembers: number;
}

/** The mapping from zipf ranks to keys, fixed for the whole group. */
const RANK_SEED = 0x5eed;

type Cached = PrismaClient & {
  $cache: { ready(): Promise<void>; stats(): { hits: { l1: number; l2: number }; misses: number; warmed: number } };
};

async function main(config: WarmChildConfig): Promise<WarmChildResult> {
  const { prismaCache } = (await import(config.indexUrl)) as { prismaCache: (o: object) => (c: unknown) => unknown };
  const redis = new Redis(config.redisUrl);
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: config.databaseUrl }) });
  try {
    const counting = config.role === "cold" ? {} : { warm: { top: config.role === "top" ? config.top : 0 } };
    const t0 = performance.now();
    const prisma = base.$extends(prismaCache({ redis, namespace: config.namespace, ttl: config.ttl, ...counting }) as never) as unknown as Cached;
    await prisma.$cache.ready();
    const readyMs = performance.now() - t0;

    const { userIds } = config;
    const read = (k: number): Promise<unknown> =>
      k % 4 === 3
        ? prisma.post.findMany({ where: { authorId: userIds[k >> 2]! }, orderBy: { id: "asc" } })
        : prisma.user.findUnique({ where: { id: userIds[k % userIds.length]! } });
    const keyOf = shuffled(
      Array.from({ length: config.keys }, (_, k) => k),
      mulberry32(RANK_SEED),
    );
    const rank = zipf(config.keys, config.exponent, mulberry32(config.seed));
    const sequence = Array.from({ length: config.reads }, () => keyOf[rank()]!);

    if (config.role === "seed" || config.role === "warm") for (let k = 0; k < config.keys; k++) await read(k);
    const ns: number[] = [];
    const before = prisma.$cache.stats();
    if (config.role === "seed") for (const k of sequence) await read(k);
    else {
      for (const k of sequence) {
        const started = process.hrtime.bigint();
        await read(k);
        ns.push(Number(process.hrtime.bigint() - started));
      }
    }
    const after = prisma.$cache.stats();
    // The counts are sent after the reads' turns, on this connection: a round trip after them comes back after theirs.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    await redis.ping();
    return {
      ns,
      l1: after.hits.l1 - before.hits.l1,
      l2: after.hits.l2 - before.hits.l2,
      misses: after.misses - before.misses,
      warmed: after.warmed,
      readyMs,
      hotMembers: await redis.zcard(`${config.namespace}:hot`),
    };
  } finally {
    await base.$disconnect();
    redis.disconnect();
  }
}

main(JSON.parse(process.argv[2]!) as WarmChildConfig).then(
  (result) => process.send!(result, () => process.exit(0)),
  (err: unknown) => {
    console.error("[warm-child]", err);
    process.exit(1);
  },
);
