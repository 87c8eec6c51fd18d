/**
 * Cross-process coherence: two cached clients (two "processes": separate
 * Prisma clients, Redis connections and L1 tiers) on one namespace.
 */
import { describe, expect, it } from "vitest";
import { sqlIdent, uniqueNamespace } from "../support/db";
import { selects, slowDescribe, useSeededDatabase } from "../support/harness";
import { mulberry32 } from "../support/prng";

const t = useSeededDatabase();

/** Two processes sharing Redis, each with its own L1. */
async function pair() {
  const ns = uniqueNamespace();
  const a = t.cached({ redis: t.redis() }, ns);
  const b = t.cached({ redis: t.redis() }, ns);
  await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
  return { a, b };
}

describe("invalidation bus", () => {
  it("a write in one process outdates the other process's L1 once the bump is delivered", async () => {
    const { a, b } = await pair();
    const id = t.ids.users.bob;
    await b.prisma.user.findUnique({ where: { id } });
    await b.prisma.user.findUnique({ where: { id } });
    expect(b.prisma.$cache.stats().hits.l1).toBe(1);
    const updated = await a.prisma.user.update({ where: { id }, data: { name: `bus ${Math.random()}` } });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!);
    expect(await b.prisma.user.findUnique({ where: { id } })).toEqual(updated);
    expect(b.prisma.$cache.stats().remoteBumps).toBeGreaterThan(0);
    // A process does not apply its own bumps a second time.
    expect(a.prisma.$cache.stats().remoteBumps).toBe(0);
  });

  it("unrelated rows stay in the other process's L1", async () => {
    const { a, b } = await pair();
    await b.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    await a.prisma.user.update({ where: { id: t.ids.users.carol }, data: { name: `other ${Math.random()}` } });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!);
    b.counter.reset();
    await b.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(selects(b.counter)).toBe(0);
    expect(b.prisma.$cache.stats().hits.l1).toBe(1);
  });
});

slowDescribe("processes", "randomized read/write interleaving over two processes", () => {
  const SEED = Number(process.env.PTC_PROPERTY_SEED ?? 20261121);
  const OPS = Number(process.env.PTC_PROPERTY_OPS ?? 2000);

  it(`every read started after a write resolved sees it (seed ${SEED}, ${OPS} operations)`, async () => {
    const rand = mulberry32(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const { a, b } = await pair();
    const clients = [a.prisma, b.prisma] as const;
    const plain = t.plain().prisma;
    const tag = `prop-${SEED}-${Math.random().toString(36).slice(2, 6)}`;
    // Rows this test owns: posts titled `${tag}:i`.
    const rows = await Promise.all(Array.from({ length: 12 }, (_, i) => plain.post.create({ data: { title: `${tag}:${i}`, views: 0 } })));
    const truth = new Map(rows.map((r) => [r.id, { views: r.views, published: r.published }]));
    const ids = [...truth.keys()].sort((x, y) => x - y);
    const mine = { title: { startsWith: `${tag}:` } };
    let counter = 0;
    const log: string[] = [];

    const check = async (who: number, what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) !== JSON.stringify(want)) {
        const db = await plain.post.findMany({ where: mine, orderBy: { id: "asc" }, select: { id: true, views: true, published: true } });
        throw new Error(
          `database: ${JSON.stringify(db)}\ntruth: ${JSON.stringify([...truth])}\n` +
            `op ${log.length} (${what} on ${who === 0 ? "A" : "B"}) saw stale data: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}\nlast ops:\n${log.slice(-10).join("\n")}`,
        );
      }
    };

    for (let op = 0; op < OPS; op++) {
      const who = rand() < 0.5 ? 0 : 1;
      const p = clients[who];
      const r = rand();
      if (r < 0.35) {
        const id = pick(ids);
        log.push(`read ${id}`);
        const row = await p.post.findUnique({ where: { id } });
        await check(who, `findUnique ${id}`, row && { views: row.views, published: row.published }, truth.get(id));
      } else if (r < 0.5) {
        log.push("list");
        const list = await p.post.findMany({ where: mine, orderBy: { id: "asc" }, select: { id: true, views: true } });
        await check(
          who,
          "findMany",
          list,
          ids.map((id) => ({ id, views: truth.get(id)!.views })),
        );
      } else if (r < 0.6) {
        log.push("aggregate");
        const agg = await p.post.aggregate({ where: { ...mine, published: true }, _sum: { views: true }, _count: { _all: true } });
        const pub = ids.filter((id) => truth.get(id)!.published);
        await check(who, "aggregate", [agg._count._all, agg._sum.views ?? 0], [pub.length, pub.reduce((s, id) => s + truth.get(id)!.views, 0)]);
      } else if (r < 0.7) {
        log.push("count");
        const min = Math.ceil(counter / 2);
        const n = await p.post.count({ where: { ...mine, views: { gte: min } } });
        await check(who, "count", n, ids.filter((id) => truth.get(id)!.views >= min).length);
      } else {
        // A write, then: the writer sees it at once; the other process once the bump is delivered.
        const id = pick(ids);
        const views = ++counter;
        if (r < 0.88) {
          log.push(`update ${id} views=${views}`);
          await p.post.update({ where: { id }, data: { views } });
          truth.get(id)!.views = views;
        } else if (r < 0.95) {
          const published = rand() < 0.5;
          log.push(`updateMany published=${published} views=${views}`);
          await p.post.updateMany({ where: { ...mine, published }, data: { views } });
          for (const v of truth.values()) if (v.published === published) v.views = views;
        } else {
          const published = !truth.get(id)!.published;
          log.push(`$executeRaw ${id} published=${published}`);
          await p.$executeRaw`UPDATE ${sqlIdent("Post")} SET published = ${published} WHERE id = ${id}`;
          truth.get(id)!.published = published;
        }
        const row = await p.post.findUnique({ where: { id } });
        await check(who, `read-own-write ${id}`, row && { views: row.views, published: row.published }, truth.get(id));
        await clients[1 - who].$cache.delivered(p.$cache.lastPublished()!);
      }
    }
    // The cache did real work: most reads were hits, across both tiers.
    const hits = [a, b].map((c) => c.prisma.$cache.stats().hits.l1 + c.prisma.$cache.stats().hits.l2);
    expect(hits[0]! + hits[1]!).toBeGreaterThan(OPS / 10);
  }, 120_000);
});
