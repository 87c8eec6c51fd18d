/**
 * The change feed on PostgreSQL: writes made outside the app (plain SQL on
 * a connection without the cache) make cached reads stale in every process,
 * exactly as an app write of the same rows would, and only those. One
 * process consumes; another takes over when it closes. Bad setups give a
 * `degraded` event naming the setting, and the cache keeps serving.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { CacheEvent } from "../../src/index";
import { selects, useSeededDatabase } from "../support/harness";
import { until } from "../support/until";
import { uniqueNamespace } from "../support/db";
import { closeRedis, connectRedis } from "../support/redis-client";
import { startRedisProcess } from "../support/redis-process";
import { createMigratedDatabase, localPostgres, postgresProgram, ServerScope } from "../support/servers";

const t = useSeededDatabase();
const slots: string[] = [];
const LEASE = 600;

/** Runs SQL on a connection of its own, outside every cache. */
async function outside(sql: string, params: unknown[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: t.url() });
  await c.connect();
  try {
    await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** The value of an LSN expression (`pg_current_wal_insert_lsn()`, a slot's confirmed LSN) on the test database, as a number. */
async function lsn(expression: string): Promise<bigint> {
  const c = new pg.Client({ connectionString: t.url() });
  await c.connect();
  try {
    const r = await c.query<{ lsn: string | null }>(`SELECT (${expression})::text AS lsn`);
    const [hi, lo] = (r.rows[0]?.lsn ?? "0/0").split("/");
    return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  } finally {
    await c.end();
  }
}

const slotOf = (namespace: string) => `ptc_${namespace.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);

/** Two processes' cached clients on one namespace, both with the feed; resolves once one of them streams. */
async function pair(extra: Record<string, unknown> = {}) {
  const namespace = uniqueNamespace();
  slots.push(slotOf(namespace));
  const changeFeed = { url: t.url(), lease: LEASE, ...extra };
  const a = t.cached({ redis: t.redis(), changeFeed }, namespace);
  const b = t.cached({ redis: t.redis(), changeFeed }, namespace);
  await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
  const streaming = () => [a, b].filter((c) => c.prisma.$cache.stats().feed?.status === "streaming");
  await until("a consumer", () => streaming().length === 1);
  return { a, b, namespace, holder: streaming()[0]!, streaming };
}

afterAll(async () => {
  // The slots hold the database (and its WAL): dropped once their consumers closed.
  const c = new pg.Client({ connectionString: t.url() });
  await c.connect();
  for (const s of slots)
    await c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [s]).catch(() => undefined);
  await c.end();
});

describe("change feed (PostgreSQL)", () => {
  it("an outside UPDATE makes the rows' cached reads stale in both processes, and nothing else", async () => {
    const { a, b } = await pair();
    const { hello: p1, draft: p2 } = t.ids.posts;
    for (const c of [a, b]) {
      await c.prisma.post.findUnique({ where: { id: p1 } });
      await c.prisma.post.findUnique({ where: { id: p2 } });
    }
    await outside(`UPDATE "Post" SET title = 'changed outside' WHERE id = $1`, [p1]);
    for (const c of [a, b]) await until("the outside update", async () => (await c.prisma.post.findUnique({ where: { id: p1 } }))?.title === "changed outside");
    // The other row's entry stayed: read again without the database.
    for (const c of [a, b]) {
      c.counter.reset();
      await c.prisma.post.findUnique({ where: { id: p2 } });
      expect(selects(c.counter)).toBe(0);
    }
  });

  it("an outside INSERT makes the list of its foreign key stale, and not another author's", async () => {
    const { a } = await pair();
    const { alice: u1, bob: u2 } = t.ids.users;
    const before = await a.prisma.post.findMany({ where: { authorId: u1 }, orderBy: { id: "asc" } });
    await a.prisma.post.findMany({ where: { authorId: u2 }, orderBy: { id: "asc" } });
    await outside(`INSERT INTO "Post" (title, "authorId") VALUES ('from psql', $1)`, [u1]);
    await until(
      "the outside insert",
      async () => (await a.prisma.post.findMany({ where: { authorId: u1 }, orderBy: { id: "asc" } })).length === before.length + 1,
    );
    a.counter.reset();
    await a.prisma.post.findMany({ where: { authorId: u2 }, orderBy: { id: "asc" } });
    expect(selects(a.counter)).toBe(0);
  });

  it("a link added to an implicit many-to-many join table and a TRUNCATE make what reads them stale", async () => {
    const { b } = await pair();
    const p1 = t.ids.posts.hello;
    const tag = await b.base.tag.create({ data: { name: `feed-${Date.now()}` } });
    const tagsOf = async () => (await b.prisma.post.findUnique({ where: { id: p1 }, include: { tags: true } }))?.tags.map((x) => x.id) ?? [];
    expect(await tagsOf()).not.toContain(tag.id);
    await outside(`INSERT INTO "_PostToTag" ("A", "B") VALUES ($1, $2)`, [p1, tag.id]);
    await until("the outside link", async () => (await tagsOf()).includes(tag.id));
    const count = await b.prisma.comment.count();
    expect(count).toBeGreaterThan(0);
    await outside(`TRUNCATE comments`);
    await until("the truncate", async () => (await b.prisma.comment.count()) === 0);
  });

  it("the consumer that closes gives up its lease at once, and the other process takes over", async () => {
    const { a, b, holder } = await pair();
    const other = holder === a ? b : a;
    const p3 = t.ids.posts.orphan;
    await other.prisma.post.findUnique({ where: { id: p3 } });
    await holder.prisma.$disconnect();
    expect(holder.prisma.$cache.stats().feed?.status).toBe("stopped");
    await until("the takeover", () => other.prisma.$cache.stats().feed?.status === "streaming", LEASE * 3);
    await outside(`UPDATE "Post" SET views = views + 1000 WHERE id = $1`, [p3]);
    await until("the update after the takeover", async () => ((await other.prisma.post.findUnique({ where: { id: p3 } }))?.views ?? 0) >= 1000);
  });

  it("a user without REPLICATION: a degraded event names it, and the cache keeps serving", async () => {
    const role = `noreplication_${Date.now()}`;
    await outside(`CREATE ROLE ${role} LOGIN`);
    await outside(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    const url = new URL(t.url());
    url.username = role;
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), changeFeed: { url: url.toString(), lease: LEASE } }, namespace);
    const events: CacheEvent[] = [];
    c.prisma.$cache.on((e) => events.push(e));
    await until("the failure", () => c.prisma.$cache.stats().feed?.status === "failed");
    const degraded = events.find((e) => e.type === "degraded" && e.internal.includes("REPLICATION"));
    expect(degraded && degraded.type === "degraded" && degraded.effect).toMatch(/ALTER ROLE .* WITH REPLICATION/);
    const p1 = t.ids.posts.hello;
    await c.prisma.post.findUnique({ where: { id: p1 } });
    c.counter.reset();
    await c.prisma.post.findUnique({ where: { id: p1 } });
    expect(selects(c.counter)).toBe(0);
  });

  it("an existing publication that lacks a table, with create: false, names the table", async () => {
    const name = `pub_${Date.now()}`;
    await outside(`CREATE PUBLICATION ${name} FOR TABLE "Post"`);
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), changeFeed: { url: t.url(), lease: LEASE, publication: name, create: false } }, namespace);
    const events: CacheEvent[] = [];
    c.prisma.$cache.on((e) => events.push(e));
    await until("the failure", () => c.prisma.$cache.stats().feed?.status === "failed");
    const degraded = events.find((e) => e.type === "degraded" && e.internal.includes("publication"));
    expect(degraded && degraded.type === "degraded" && degraded.effect).toMatch(/lacks tables .*comments/);
    await outside(`DROP PUBLICATION ${name}`);
  });

  it("tables without REPLICA IDENTITY FULL are reported", async () => {
    const { holder } = await pair();
    const events: CacheEvent[] = [];
    holder.prisma.$cache.on((e) => events.push(e));
    expect(events.some((e) => e.type === "degraded" && /REPLICA IDENTITY FULL/.test(e.effect))).toBe(true);
  });
  it("while Redis cannot take the bumps, nothing is acknowledged; once it can, the change is applied", async () => {
    const server = await startRedisProcess();
    const namespace = uniqueNamespace();
    slots.push(slotOf(namespace));
    const connect = () => connectRedis(server.url, { maxRetriesPerRequest: 1 });
    const consumerRedis = connect();
    const readerRedis = connect();
    try {
      const consumer = t.cached({ redis: consumerRedis, redisTimeout: 300, changeFeed: { url: t.url(), lease: LEASE } }, namespace);
      const reader = t.cached({ redis: readerRedis, redisTimeout: 300 }, namespace);
      await until("the consumer", () => consumer.prisma.$cache.stats().feed?.status === "streaming");
      const id = t.ids.posts.draft;
      await reader.prisma.post.findUnique({ where: { id } });
      server.signal("SIGSTOP");
      await outside(`UPDATE "Post" SET views = 4242 WHERE id = $1`, [id]);
      const commit = await lsn("pg_current_wal_insert_lsn()");
      await until("the consumer to wait for Redis", () => consumer.prisma.$cache.stats().feed?.status === "waiting");
      expect(await lsn(`(SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slotOf(namespace)}')`)).toBeLessThan(commit);
      server.signal("SIGCONT");
      await until(
        "the change to be applied",
        async () => (await lsn(`(SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slotOf(namespace)}')`)) >= commit,
        20_000,
      );
      await until("the reader to read it", async () => (await reader.prisma.post.findUnique({ where: { id } }))?.views === 4242, 20_000);
    } finally {
      server.signal("SIGCONT");
      closeRedis(consumerRedis);
      closeRedis(readerRedis);
    }
  });

  it("a slot held by another connection: a degraded event names the slot", async () => {
    const namespace = uniqueNamespace();
    const slot = slotOf(namespace);
    slots.push(slot);
    await outside("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await outside(`CREATE PUBLICATION ${slot} FOR ALL TABLES`);
    // pg_recvlogical holds the slot, as another consumer would.
    const url = new URL(t.url());
    const holder = spawn(
      postgresProgram("pg_recvlogical"),
      ["-d", t.url(), "-S", slot, "--start", "-o", "proto_version=1", "-o", `publication_names=${slot}`, "-f", "/dev/null"],
      {
        stdio: "ignore",
      },
    );
    try {
      await until("pg_recvlogical to hold the slot", async () => {
        const c = new pg.Client({ connectionString: t.url() });
        await c.connect();
        const r = await c.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
        await c.end();
        return r.rows[0]?.active === true;
      });
      const c = t.cached({ redis: t.redis(), changeFeed: { url: url.toString(), lease: LEASE } }, namespace);
      const events: CacheEvent[] = [];
      c.prisma.$cache.on((e) => events.push(e));
      await until("the failure", () => c.prisma.$cache.stats().feed?.status === "failed");
      const degraded = events.find((e) => e.type === "degraded" && e.internal.includes("slot"));
      expect(degraded && degraded.type === "degraded" && degraded.effect).toMatch(new RegExp(`"${slot}" is in use`));
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => (holder.exitCode !== null || holder.signalCode !== null ? r(undefined) : holder.once("exit", r)));
      await outside(`DROP PUBLICATION IF EXISTS ${slot}`);
    }
  });

  it("a server without wal_level = logical: a degraded event names wal_level, and the cache keeps serving", async () => {
    const scope = new ServerScope("[feed wal_level test]");
    try {
      const server = await localPostgres(scope, ["wal_level=replica"]);
      const url = await createMigratedDatabase(server.url, "ptc_feed_wal_level");
      const c = t.cached({ redis: t.redis(), changeFeed: { url, lease: LEASE } }, uniqueNamespace());
      const events: CacheEvent[] = [];
      c.prisma.$cache.on((e) => events.push(e));
      await until("the failure", () => c.prisma.$cache.stats().feed?.status === "failed");
      const degraded = events.find((e) => e.type === "degraded" && e.internal.includes("wal_level"));
      expect(degraded && degraded.type === "degraded" && degraded.effect).toMatch(/wal_level = logical.*wal_level = replica/);
      const id = t.ids.posts.hello;
      await c.prisma.post.findUnique({ where: { id } });
      c.counter.reset();
      await c.prisma.post.findUnique({ where: { id } });
      expect(selects(c.counter)).toBe(0);
      await c.prisma.$disconnect();
    } finally {
      await scope.close();
    }
  }, 60_000);
  it("a schema change that rewrites a column's values makes its table's reads stale", async () => {
    const { a } = await pair();
    const id = t.ids.posts.orphan;
    const before = (await a.prisma.post.findUnique({ where: { id } }))?.title;
    expect(before).toBeDefined();
    // No row change: ALTER ... TYPE ... USING rewrites every value of the column in place.
    await outside(`ALTER TABLE "Post" ALTER COLUMN title TYPE text USING upper(title) || ' (altered)'`);
    await until("the schema change", async () => (await a.prisma.post.findUnique({ where: { id } }))?.title === `${before?.toUpperCase()} (altered)`);
  });
});
