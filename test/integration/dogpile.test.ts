/**
 * Promise 3: one regeneration per key, in one process or across many, on
 * real Postgres and Redis. Slow queries are held at a gate in a wrapped
 * driver adapter; nothing here depends on timing except the lease TTL of a
 * killed holder, which the lease itself enforces.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { CacheEvent } from "../../src/index";
import { mentionsTable, redisUrl, uniqueNamespace, type QueryCounter, type QueryInfo } from "../support/db";
import { slowDescribe, useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
const isUserSelect = (q: QueryInfo) => q.kind === "query" && /select/i.test(q.sql) && mentionsTable(q.sql, "User");
const userSelects = (c: QueryCounter) => c.log.filter(isUserSelect).length;

/** Lets pending I/O and microtasks run a few turns, without timers. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Resolves on the first event of `type` from a cached client. */
function nextEvent(client: { $cache: { on(l: (e: CacheEvent) => void): () => void } }, type: CacheEvent["type"]): Promise<CacheEvent> {
  return new Promise((resolve) => {
    const off = client.$cache.on((e) => {
      if (e.type !== type) return;
      off();
      resolve(e);
    });
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("one process", () => {
  it.each([
    ["L1 + Redis", true, undefined],
    ["Redis only (L2 misses coalesce too)", true, false as const],
    ["L1 only", false, undefined],
  ])("500 concurrent reads of a cold key cause one database query (%s)", async (_label, withRedis, l1) => {
    const c = t.cached({ ...(withRedis ? { redis: t.redis() } : {}), ...(l1 === false ? { l1 } : {}) });
    c.counter.reset();
    const gate = c.counter.gate(isUserSelect);
    // Prisma promises are lazy: `.then` starts each read now.
    const reads = Array.from({ length: 500 }, () => c.prisma.user.findUnique({ where: { id: t.ids.users.alice } }).then((r) => r));
    await gate.opened;
    await turns();
    expect(gate.held).toBe(1);
    gate.release();
    const results = await Promise.all(reads);
    expect(userSelects(c.counter)).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]?.id).toBe(t.ids.users.alice);
    expect(c.prisma.$cache.stats().coalesced).toBe(499);
    // Each caller has its own copy.
    results[0]!.name = "mutated";
    expect(results[1]!.name).not.toBe("mutated");
  });
});

slowDescribe("processes", "four OS processes sharing Redis", () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
  });

  type Message = { type: string; selects?: number; results?: number; distinct?: string[]; message?: string; event?: string };

  /** Starts a cached client in its own process; resolves once it is ready. */
  async function spawn(namespace: string, userId: number, reads: number, lockTtl?: number) {
    const script = fileURLToPath(new URL("../support/burst-child.ts", import.meta.url));
    const config = { databaseUrl: t.url(), redisUrl: redisUrl(), namespace, userId, reads, lockTtl };
    const child = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.push(child);
    const messages: Message[] = [];
    const waiters: Array<() => void> = [];
    child.on("message", (m: Message) => {
      messages.push(m);
      if (m.type === "error") throw new Error(`child failed: ${m.message}`);
      for (const w of waiters.splice(0)) w();
    });
    const until = (type: string) =>
      new Promise<Message>((resolve) => {
        const check = () => {
          const m = messages.find((x) => x.type === type);
          if (m) resolve(m);
          else waiters.push(check);
        };
        check();
      });
    await until("ready");
    return { child, messages, until };
  }

  /**
   * `steps`, or, if they have not finished after `ms`, an error that lists every message of each child
   * (its cache events among them), so that a stuck burst says where it stuck instead of timing out mute.
   */
  async function orReport<T>(procs: Array<{ messages: Message[] }>, ms: number, steps: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const log = procs.map((p, i) => `child ${i}: ${p.messages.map((m) => (m.type === "event" ? m.event : m.type)).join(", ")}`);
        reject(new Error(`the burst did not finish within ${ms} ms:\n${log.join("\n")}`));
      }, ms);
    });
    try {
      return await Promise.race([steps, stuck]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Lease TTL and lease wait of the burst: longer than the test may hold the query at its gate. On a loaded
   * machine the three waiters can take seconds to report; a lease that expired meanwhile (the default TTL
   * is 10 s) would send them to the database as a dead holder's would, where their own gates hold them.
   */
  const HELD = 60_000;

  it("1,000 concurrent reads of a cold key over 4 processes cause one database query", async () => {
    const namespace = uniqueNamespace();
    const procs = await Promise.all([0, 1, 2, 3].map(() => spawn(namespace, t.ids.users.bob, 250, HELD)));
    const done = await orReport(
      procs,
      50_000,
      (async () => {
        for (const p of procs) p.child.send({ type: "burst" });
        // One process holds the lease with its query at the gate; the other three wait for the lease.
        const holder = await Promise.race(procs.map((p) => p.until("holding").then(() => p)));
        await Promise.all(procs.filter((p) => p !== holder).map((p) => p.until("lease-wait")));
        holder.child.send({ type: "release" });
        return Promise.all(procs.map((p) => p.until("done")));
      })(),
    );
    for (const p of procs) p.child.send({ type: "exit" });
    expect(done.reduce((n, d) => n + d.selects!, 0)).toBe(1);
    expect(done.map((d) => d.results)).toEqual([250, 250, 250, 250]);
    const distinct = new Set(done.flatMap((d) => d.distinct!));
    expect(distinct.size).toBe(1);
    expect(JSON.parse([...distinct][0]!)).toMatchObject({ id: t.ids.users.bob });
  }, 60_000);

  it("a lease holder killed mid-query: another process takes over after the lease TTL, no deadlock", async () => {
    const namespace = uniqueNamespace();
    // The survivor must see the victim's lease before it expires: it is connected (database and Redis) before
    // the victim takes the lease, so that its read after "holding" is a few Redis round trips, well inside the TTL
    // (2.5 s, so that a loaded machine has room; the test waits that long for the takeover).
    const lockTtl = 2_500;
    const survivor = t.cached({ redis: t.redis(), lock: { ttl: lockTtl, wait: 30_000 } }, namespace);
    await survivor.prisma.$connect();
    await survivor.prisma.$cache.ready();
    const victim = await spawn(namespace, t.ids.users.carol, 1, lockTtl);
    victim.child.send({ type: "burst" });
    await victim.until("holding");
    survivor.counter.reset();
    const waiting = nextEvent(survivor.prisma, "lease-wait");
    const read = survivor.prisma.user.findUnique({ where: { id: t.ids.users.carol } }).then((r) => r);
    let waited = false;
    const tooLate = read.then(() => {
      if (!waited) throw new Error(`the survivor's read ended without waiting for the lease: it came after the victim's lease (${lockTtl} ms) expired`);
    });
    await Promise.race([waiting.then(() => (waited = true)), tooLate]);
    victim.child.kill("SIGKILL");
    const row = await read;
    expect(row?.id).toBe(t.ids.users.carol);
    expect(userSelects(survivor.counter)).toBe(1);
    expect(survivor.prisma.$cache.stats().leaseWaits).toBe(1);
    expect(victim.messages.some((m) => m.type === "done")).toBe(false);
  }, 60_000);
});

describe("stale-while-revalidate", () => {
  it("after expiry, 200 reads within swr resolve while the one refresh query is held, in both processes", async () => {
    const ns = uniqueNamespace();
    const a = t.cached({ redis: t.redis(), ttl: 60, swr: 120 }, ns);
    const b = t.cached({ redis: t.redis(), ttl: 60, swr: 120 }, ns);
    const id = t.ids.users.alice;
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    const old = await a.prisma.user.findUnique({ where: { id } });
    await b.prisma.user.findUnique({ where: { id } });
    const name = `refreshed ${Math.random()}`;
    await t.plain().prisma.user.update({ where: { id }, data: { name } }); // behind the cache's back
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    a.counter.reset();
    b.counter.reset();
    const gates = [a.counter.gate(isUserSelect), b.counter.gate(isUserSelect)];
    const refreshed = Promise.race([nextEvent(a.prisma, "refreshed"), nextEvent(b.prisma, "refreshed")]);
    const reads = await Promise.all([
      ...Array.from({ length: 100 }, () => a.prisma.user.findUnique({ where: { id } })),
      ...Array.from({ length: 100 }, () => b.prisma.user.findUnique({ where: { id } })),
    ]);
    // All 200 resolved with the stale value while the refresh is still held at a gate.
    expect(reads.every((r) => JSON.stringify(r) === JSON.stringify(old))).toBe(true);
    await Promise.race(gates.map((g) => g.opened));
    await turns();
    expect(gates[0]!.held + gates[1]!.held).toBe(1);
    for (const g of gates) g.release();
    await refreshed;
    expect(userSelects(a.counter) + userSelects(b.counter)).toBe(1);
    const stats = [a, b].map((c) => c.prisma.$cache.stats());
    expect(stats[0]!.staleServed + stats[1]!.staleServed).toBeGreaterThanOrEqual(2);
    expect(stats[0]!.backgroundRefreshes + stats[1]!.backgroundRefreshes).toBeGreaterThanOrEqual(1);
    // The refreshed value is served from here on.
    const refresher = userSelects(a.counter) === 1 ? a : b;
    expect((await refresher.prisma.user.findUnique({ where: { id } }))?.name).toBe(name);
  });
});

describe("grace on database errors", () => {
  it("serves the stale value within grace, and raises Prisma's own error outside it", async () => {
    const c = t.cached({ redis: t.redis(), ttl: 60, grace: 300 });
    const events: CacheEvent[] = [];
    c.prisma.$cache.on((e) => events.push(e));
    const id = t.ids.users.bob;
    const cached = await c.prisma.user.findUnique({ where: { id } });
    const failure = new Error("connection to the database was lost");

    // What Prisma itself raises for that failure, without the cache.
    const plain = t.plain();
    plain.counter.failNext(failure, isUserSelect);
    const expected = await plain.prisma.user.findUnique({ where: { id } }).catch((e: unknown) => e);
    expect(expected).toBeInstanceOf(Error);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000); // past ttl, within ttl + grace
    c.counter.failNext(failure, isUserSelect);
    expect(await c.prisma.user.findUnique({ where: { id } })).toEqual(cached);
    expect(c.prisma.$cache.stats().graceServed).toBe(1);
    expect(events.find((e) => e.type === "grace")).toBeDefined();

    vi.setSystemTime(Date.now() + 600_000); // past ttl + grace
    c.counter.failNext(failure, isUserSelect);
    const err = await c.prisma.user.findUnique({ where: { id } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf((expected as Error).constructor);
    expect((err as { code?: unknown }).code).toBe((expected as { code?: unknown }).code);
    expect((err as Error).message).toBe((expected as Error).message.replace(/plain\.prisma/g, "c.prisma"));
    expect(c.prisma.$cache.stats().graceServed).toBe(1);
  });

  it("raises Prisma's error class and code unchanged when nothing is cached", async () => {
    const c = t.cached({ grace: 300 });
    c.counter.failNext(new Error("boom"), isUserSelect);
    const err = await c.prisma.user.findUnique({ where: { id: t.ids.users.carol } }).catch((e: unknown) => e);
    const plain = t.plain();
    plain.counter.failNext(new Error("boom"), isUserSelect);
    const expected = await plain.prisma.user.findUnique({ where: { id: t.ids.users.carol } }).catch((e: unknown) => e);
    expect(Object.getPrototypeOf(err)).toBe(Object.getPrototypeOf(expected));
    expect((err as { code?: unknown }).code).toBe((expected as { code?: unknown }).code);
    expect(c.prisma.$cache.stats().graceServed).toBe(0);
  });
});

describe("probabilistic early refresh (XFetch)", () => {
  it.each([
    ["L1 + Redis", true],
    ["L1 only", false],
  ])("a hit close to expiry refreshes in the background; far from it, or with earlyRefresh: 0, it does not (%s)", async (_label, withRedis) => {
    const id = t.ids.posts.hello;
    const run = async (earlyRefresh: number | undefined, secondsBeforeExpiry: number) => {
      const c = t.cached({ ...(withRedis ? { redis: t.redis() } : {}), ttl: 60, ...(earlyRefresh === undefined ? {} : { earlyRefresh }) });
      // L1 serves only while the bus is known to deliver: subscribed first, so that the hit below is L1's.
      await c.prisma.$cache.ready();
      // Filled on the real clock, so the entry records how long its query took.
      await c.prisma.post.findUnique({ where: { id } });
      // The clock stands still from here on: the entry's own expiry is read from a hit, freshUntil = now + info.ttl.
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now());
      const { info } = await c.prisma.post.findUnique({ where: { id } }).withCacheInfo();
      expect(info.status).toBe("l1");
      const freshUntil = Date.now() + info.ttl;
      c.counter.reset();
      // The draw that makes -ln(rand) as large as it gets in practice.
      const random = vi.spyOn(Math, "random").mockReturnValue(1e-9);
      vi.setSystemTime(freshUntil - secondsBeforeExpiry * 1000);
      const refreshed = nextEvent(c.prisma, "refreshed");
      const row = await c.prisma.post.findUnique({ where: { id } });
      random.mockRestore();
      expect(row?.id).toBe(id);
      if (c.prisma.$cache.stats().earlyRefreshes > 0) await refreshed;
      vi.useRealTimers();
      return { stats: c.prisma.$cache.stats(), selects: c.counter.log.filter((q) => q.kind === "query" && mentionsTable(q.sql, "Post")).length };
    };
    const near = await run(undefined, 0.0005);
    expect(near.stats.earlyRefreshes).toBe(1);
    expect(near.stats.backgroundRefreshes).toBe(1);
    expect(near.selects).toBe(1);
    const far = await run(undefined, 50);
    expect(far.stats.earlyRefreshes).toBe(0);
    expect(far.selects).toBe(0);
    const off = await run(0, 0.0005);
    expect(off.stats.earlyRefreshes).toBe(0);
    expect(off.selects).toBe(0);
  });
});

describe("lease wait timeout", () => {
  it("a waiter whose lock wait runs out queries the database itself", async () => {
    const ns = uniqueNamespace();
    const holder = t.cached({ redis: t.redis(), lock: { ttl: 30_000, wait: 30_000 } }, ns);
    const waiter = t.cached({ redis: t.redis(), lock: { ttl: 30_000, wait: 150 } }, ns);
    const gate = holder.counter.gate(isUserSelect);
    const held = holder.prisma.user.findUnique({ where: { id: t.ids.users.alice } }).then((r) => r);
    await gate.opened;
    waiter.counter.reset();
    const timedOut = nextEvent(waiter.prisma, "lease-timeout");
    const row = await waiter.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    await timedOut;
    expect(row?.id).toBe(t.ids.users.alice);
    expect(userSelects(waiter.counter)).toBe(1);
    expect(waiter.prisma.$cache.stats()).toMatchObject({ leaseWaits: 1, leaseTimeouts: 1 });
    gate.release();
    expect((await held)?.id).toBe(t.ids.users.alice);
  });
});

describe("swr set per model and per query", () => {
  it.each([
    ["per model", { models: { Tag: { swr: 120 } } }, undefined],
    ["per query", {}, { ttl: 60, swr: 120 }],
  ] as const)("serves the stale value at once and refreshes it in the background (%s)", async (_label, options, cache) => {
    const c = t.cached({ redis: t.redis(), ttl: 60, ...options });
    const id = t.ids.tags.news;
    const read = () => c.prisma.tag.findUnique({ where: { id }, ...(cache ? { cache } : {}) });
    const before = await read();
    const name = `news ${Math.random().toString(36).slice(2, 8)}`;
    await t.plain().prisma.tag.update({ where: { id }, data: { name } }); // behind the cache's back
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    c.counter.reset();
    const refreshed = nextEvent(c.prisma, "refreshed");
    expect(await read()).toEqual(before);
    await refreshed;
    expect(c.counter.log.filter((q) => q.kind === "query" && mentionsTable(q.sql, "Tag")).length).toBe(1);
    expect((await read())?.name).toBe(name);
    expect(c.prisma.$cache.stats()).toMatchObject({ staleServed: 1, backgroundRefreshes: 1 });
    // Without swr the same expiry is a plain miss.
    const plainTtl = t.cached({ redis: t.redis(), ttl: 60 });
    await plainTtl.prisma.tag.findUnique({ where: { id } });
    vi.setSystemTime(Date.now() + 61_000);
    plainTtl.counter.reset();
    expect((await plainTtl.prisma.tag.findUnique({ where: { id } }))?.name).toBe(name);
    expect(plainTtl.prisma.$cache.stats().staleServed).toBe(0);
    expect(plainTtl.counter.log.filter((q) => q.kind === "query" && mentionsTable(q.sql, "Tag")).length).toBe(1);
  });
});
