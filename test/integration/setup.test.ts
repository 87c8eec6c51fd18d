import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createTestDatabase, redisUrl, seed, uniqueNamespace, type TestDatabase } from "../support/db";

/** Lets pending I/O callbacks and microtasks run a few times, without timers. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function track<T>(p: Promise<T>): { promise: Promise<T>; readonly settled: boolean } {
  let settled = false;
  const promise = p.finally(() => (settled = true));
  return {
    promise,
    get settled() {
      return settled;
    },
  };
}

describe("test setup", () => {
  let a: TestDatabase;
  let b: TestDatabase;
  const clients: Array<{ $disconnect(): Promise<void> }> = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.$disconnect()));
    await Promise.all([a?.drop(), b?.drop()]);
  });

  function client(url: string) {
    const made = createClient(url);
    clients.push(made.prisma);
    return made;
  }

  it("applies the committed migrations to every database", async () => {
    const c = new pg.Client({ connectionString: a.url });
    await c.connect();
    const { rows } = await c.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    await c.end();
    expect(rows.map((r) => r.table_name)).toEqual([
      "Customer",
      "Group",
      "Membership",
      "Order",
      "Post",
      "Profile",
      "Sample",
      "Tag",
      "User",
      "_PostToTag",
      "comments",
    ]);
  });

  it("gives each call an isolated database", async () => {
    expect(a.url).not.toBe(b.url);
    const { prisma: pa } = client(a.url);
    const { prisma: pb } = client(b.url);
    const ids = await seed(pa);
    expect(await pa.user.count()).toBe(3);
    expect(await pb.user.count()).toBe(0);
    const alpha = await pa.sample.findUniqueOrThrow({ where: { id: ids.samples.alpha } });
    expect(alpha.big).toBe(9007199254740993n);
    expect(alpha.decimal.toFixed(6)).toBe("12345678901234.123456");
  });

  it("reaches Redis", async () => {
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.ping()).toBe("PONG");
      const ns = uniqueNamespace();
      expect(ns).not.toBe(uniqueNamespace());
      await redis.set(`${ns}:k`, "v");
      expect(await redis.get(`${ns}:k`)).toBe("v");
    } finally {
      redis.disconnect();
    }
  });

  it("counts queries, also inside interactive transactions", async () => {
    const { prisma, counter } = client(b.url);
    await prisma.user.findMany();
    expect(counter.queries).toBe(1);
    counter.reset();
    await prisma.$transaction(async (tx) => {
      await tx.user.create({ data: { email: "tx@example.com" } });
      await tx.user.count();
    });
    expect(counter.queries).toBe(2);
    const inTx = counter.log.filter((q) => q.inTransaction).map((q) => q.sql);
    expect(inTx.some((s) => s.startsWith('INSERT INTO "public"."User"'))).toBe(true);
    expect(inTx.some((s) => /^SELECT COUNT/i.test(s))).toBe(true);
  });

  it("holds a gated query until released", async () => {
    const { prisma, counter } = client(b.url);
    await prisma.$connect();
    const gate = counter.gate((q) => q.sql.includes('"public"."Tag"'));
    const query = track(prisma.tag.findMany());
    await gate.opened;
    await turns();
    expect(query.settled).toBe(false);
    expect(gate.held).toBe(1);
    expect(await prisma.user.count()).toBeGreaterThanOrEqual(0); // ungated queries still pass
    gate.release();
    await expect(query.promise).resolves.toEqual([]);
  });

  it("fails the next matching query on demand", async () => {
    const { prisma, counter } = client(b.url);
    counter.failNext(new Error("injected"), (q) => q.sql.includes('"public"."Post"'));
    await expect(prisma.post.findMany()).rejects.toThrow("injected");
    await expect(prisma.post.findMany()).resolves.toEqual([]);
  });
});
