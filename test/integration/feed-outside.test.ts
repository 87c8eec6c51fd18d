/**
 * The change feed on MariaDB and on SQLite, end to end through the cache (as
 * feed.test.ts does on PostgreSQL): writes made outside the app, on a
 * connection without the cache (the `mariadb` driver; a better-sqlite3
 * connection to the file), make cached reads of both processes of a
 * namespace fresh. On MariaDB the row binlog makes it precise: other entries
 * stay cached. On SQLite every commit of another connection makes the whole
 * namespace stale (`PRAGMA data_version`, docs/change-feed.md), which the
 * tests check instead. A consumer that closes is taken over. MariaDB only:
 * the binlog position is kept in Redis, so a new consumer continues from it
 * (a change made while none ran is applied, and nothing else is made
 * stale); a server without a binlog is reported (`log_bin`), and the cache
 * keeps serving.
 *
 * Runs in the `mariadb` and `sqlite` projects only (vitest.config.ts).
 */
import { createRequire } from "node:module";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type CacheEvent, type CacheOptions, prismaCache } from "../../src/index";
import { createClient, provider, type QueryCounter, uniqueNamespace } from "../support/db";
import { selects, useSeededDatabase } from "../support/harness";
import { createMigratedMariadb, localMariadb, SERVER_SETTINGS, withMariadb } from "../support/mariadb";
import { driverUrl } from "../support/providers";
import { ServerScope } from "../support/servers";
import { until } from "../support/until";

const t = useSeededDatabase();
/** The feed's lease (ms): a takeover comes within a third of it after a close. */
const LEASE = 600;
const onMariadb = provider() === "mysql";
/** Cases only MariaDB has (a binlog position, a binlog that is off): registered on MariaDB alone, so that SQLite runs skip nothing. */
const mariadbIt = (name: string, fn: () => Promise<void>, timeout?: number): void => {
  if (onMariadb) it(name, fn, timeout);
};
const mariadbDescribe = (name: string, fn: () => void): void => {
  if (onMariadb) describe(name, fn);
};

/** The part of a better-sqlite3 connection the tests use (the package ships no types). */
interface SqliteConnection {
  prepare(sql: string): { run(...params: unknown[]): unknown };
  close(): void;
}
const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new (file: string) => SqliteConnection;

/** A table or column name quoted for this run's database. */
const q = (name: string) => (onMariadb ? `\`${name}\`` : `"${name}"`);

/** Runs one statement (`?` placeholders) on a connection of its own, outside every cache, autocommitted. */
async function outside(sql: string, params: unknown[] = []): Promise<void> {
  if (onMariadb) {
    await withMariadb(driverUrl(t.url()), (c) => c.query(sql, params));
    return;
  }
  const db = new Sqlite(t.url().replace(/^file:/, ""));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** The clients a test made, closed after it (a consumer left running would read the log through the next tests). */
const made: Array<{ prisma: { $disconnect(): Promise<void> } }> = [];

/** A cached client on `namespace` with a Redis connection of its own, closed after the test. */
function client(namespace: string, options: CacheOptions = {}) {
  const c = t.cached({ redis: t.redis(), ...options }, namespace);
  made.push(c);
  return c;
}

type Client = ReturnType<typeof client>;

const feedStatus = (c: Client) => c.prisma.$cache.stats().feed?.status;

/** Two processes' cached clients on one namespace, both with the feed; resolves once one of them streams. */
async function pair() {
  const namespace = uniqueNamespace();
  const changeFeed = { url: t.url(), lease: LEASE };
  const a = client(namespace, { changeFeed });
  const b = client(namespace, { changeFeed });
  await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
  const streaming = () => [a, b].filter((c) => feedStatus(c) === "streaming");
  await until("a consumer", () => streaming().length === 1);
  return { a, b, namespace, holder: streaming()[0]! };
}

/** Reads with `read` twice through `c`: the second read is served by the cache (no SELECT). Resolves to the value read. */
async function cachedRead<T>(c: { counter: QueryCounter }, read: () => Promise<T>): Promise<T> {
  const value = await read();
  c.counter.reset();
  await read();
  expect(selects(c.counter), "the second read is served by the cache").toBe(0);
  return value;
}

beforeAll(() => {
  expect(["mysql", "sqlite"], "run this file in the mariadb or sqlite project").toContain(provider());
});

afterEach(async () => {
  for (const c of made.splice(0)) await c.prisma.$disconnect();
});

describe(`change feed (${onMariadb ? "MariaDB binlog" : "SQLite data_version"}), writes made outside the app`, () => {
  it("an outside UPDATE makes both processes' cached reads of the row fresh", async () => {
    const { a, b } = await pair();
    const { hello: p1, draft: p2 } = t.ids.posts;
    for (const c of [a, b]) {
      await cachedRead(c, () => c.prisma.post.findUnique({ where: { id: p1 } }));
      await cachedRead(c, () => c.prisma.post.findUnique({ where: { id: p2 } }));
    }
    const title = `changed outside ${Date.now()}`;
    await outside(`UPDATE ${q("Post")} SET title = ? WHERE id = ?`, [title, p1]);
    for (const c of [a, b]) await until("the outside update", async () => (await c.prisma.post.findUnique({ where: { id: p1 } }))?.title === title);
    if (onMariadb) {
      // The binlog names the row: the other row's entry stayed, read again without the database.
      for (const c of [a, b]) {
        c.counter.reset();
        await c.prisma.post.findUnique({ where: { id: p2 } });
        expect(selects(c.counter)).toBe(0);
      }
    } else {
      // SQLite tells only that another connection committed: every entry of the namespace was made stale, the other row's too.
      a.counter.reset();
      await a.prisma.post.findUnique({ where: { id: p2 } });
      expect(selects(a.counter)).toBeGreaterThan(0);
    }
  });

  it("an outside INSERT makes the list of its foreign key show the row", async () => {
    const { a } = await pair();
    const { alice: u1, bob: u2 } = t.ids.users;
    const list = (authorId: number) => a.prisma.post.findMany({ where: { authorId }, orderBy: { id: "asc" } });
    const before = await cachedRead(a, () => list(u1));
    await cachedRead(a, () => list(u2));
    await outside(`INSERT INTO ${q("Post")} (title, ${q("authorId")}) VALUES (?, ?)`, ["inserted outside", u1]);
    await until("the outside insert", async () => (await list(u1)).length === before.length + 1);
    expect((await list(u1)).at(-1)?.title).toBe("inserted outside");
    a.counter.reset();
    await list(u2);
    // MariaDB: another author's list stayed cached. SQLite: the whole namespace was made stale.
    if (onMariadb) expect(selects(a.counter)).toBe(0);
    else expect(selects(a.counter)).toBeGreaterThan(0);
  });

  it("a link added to the implicit many-to-many table, and emptying comments, make what reads them fresh", async () => {
    // Made before the feed starts, so that no change of the feed is pending while the reads are cached.
    const tag = await t.plain().prisma.tag.create({ data: { name: `outside-${Date.now()}` } });
    const { b } = await pair();
    const p1 = t.ids.posts.hello;
    const tagsOf = async () => (await b.prisma.post.findUnique({ where: { id: p1 }, include: { tags: true } }))?.tags.map((x) => x.id) ?? [];
    expect(await cachedRead(b, tagsOf)).not.toContain(tag.id);
    await outside(`INSERT INTO ${q("_PostToTag")} (${q("A")}, ${q("B")}) VALUES (?, ?)`, [p1, tag.id]);
    await until("the outside link", async () => (await tagsOf()).includes(tag.id));

    expect(await cachedRead(b, () => b.prisma.comment.count())).toBeGreaterThan(0);
    // SQLite has no TRUNCATE.
    await outside(onMariadb ? "TRUNCATE comments" : "DELETE FROM comments");
    await until("the emptied table", async () => (await b.prisma.comment.count()) === 0);
  });

  it("the consumer that closes gives up its lease, the other process takes over, and outside writes still reach it", async () => {
    const { a, b, holder } = await pair();
    const other = holder === a ? b : a;
    const p3 = t.ids.posts.orphan;
    await holder.prisma.$disconnect();
    expect(feedStatus(holder)).toBe("stopped");
    await until("the takeover", () => feedStatus(other) === "streaming", LEASE * 3);
    // Cached after the takeover: a consumer that starts afresh (SQLite always) makes the whole namespace stale before it streams.
    const views = (await cachedRead(other, () => other.prisma.post.findUnique({ where: { id: p3 } })))!.views;
    await outside(`UPDATE ${q("Post")} SET views = views + 1000 WHERE id = ?`, [p3]);
    await until("the update after the takeover", async () => (await other.prisma.post.findUnique({ where: { id: p3 } }))?.views === views + 1000);
  });

  mariadbIt("a new consumer continues from the binlog position kept in Redis: a change made while none ran is applied, and only it", async () => {
    const namespace = uniqueNamespace();
    const changeFeed = { url: t.url(), lease: LEASE };
    const { hello: p1, draft: p2, orphan: p3 } = t.ids.posts;
    const first = client(namespace, { changeFeed });
    await until("the first consumer", () => feedStatus(first) === "streaming");
    // A change applied: its position is acknowledged, and kept in Redis.
    await outside(`UPDATE ${q("Post")} SET views = views + 1 WHERE id = ?`, [p3]);
    await until("an acknowledged position", () => first.prisma.$cache.stats().feed?.position !== undefined);

    // A process without the feed caches two rows.
    const reader = client(namespace);
    await reader.prisma.$cache.ready();
    await cachedRead(reader, () => reader.prisma.post.findUnique({ where: { id: p1 } }));
    await cachedRead(reader, () => reader.prisma.post.findUnique({ where: { id: p2 } }));

    await first.prisma.$disconnect();
    expect(feedStatus(first)).toBe("stopped");
    const title = `changed while no consumer ran ${Date.now()}`;
    await outside(`UPDATE ${q("Post")} SET title = ? WHERE id = ?`, [title, p1]);
    // No consumer: nothing made the entry stale.
    reader.counter.reset();
    expect((await reader.prisma.post.findUnique({ where: { id: p1 } }))?.title).not.toBe(title);
    expect(selects(reader.counter)).toBe(0);

    const next = client(namespace, { changeFeed });
    await until("the new consumer", () => feedStatus(next) === "streaming");
    await until("the change made while no consumer ran", async () => (await reader.prisma.post.findUnique({ where: { id: p1 } }))?.title === title);
    // It continued from the saved position: a fresh start would have made the whole namespace stale, the other row's entry too.
    reader.counter.reset();
    await reader.prisma.post.findUnique({ where: { id: p2 } });
    expect(selects(reader.counter)).toBe(0);
  });

  mariadbDescribe("a MariaDB server with the binlog off", () => {
    const scope = new ServerScope("[feed-outside: mariadb without log-bin]");
    const closing: Array<() => Promise<void>> = [];

    afterAll(async () => {
      for (const close of closing.reverse()) await close();
      await scope.close();
    });

    it("gives a degraded event naming log_bin and the status failed, and the cache keeps serving", async () => {
      // A second server of this test's own, started without --log-bin (and so without binlog_format).
      const settings = SERVER_SETTINGS.filter((s) => !/^--(log-bin|binlog-format)\b/.test(s));
      const server = await localMariadb(scope, { settings });
      const url = await createMigratedMariadb(server.url, "ptc_feed_no_binlog");
      const [{ logBin }] = await withMariadb(url, (c) => c.query("SELECT @@GLOBAL.log_bin AS logBin"));
      expect(Number(logBin)).toBe(0);

      const { prisma: base, counter } = createClient(url);
      const prisma = base.$extends(prismaCache({ ttl: 60, namespace: uniqueNamespace(), redis: t.redis(), changeFeed: { url, lease: LEASE } }));
      closing.push(() => base.$disconnect());
      closing.push(() => prisma.$disconnect());
      const events: CacheEvent[] = [];
      prisma.$cache.on((e) => events.push(e));
      const post = await base.post.create({ data: { title: "on a server without a binlog" } });

      await until("the failure", () => prisma.$cache.stats().feed?.status === "failed");
      const degraded = events.find((e) => e.type === "degraded" && e.internal.includes("log_bin"));
      expect(degraded && degraded.type === "degraded" && degraded.effect).toMatch(/--log-bin/);
      // Reads are cached as without the feed.
      expect(await cachedRead({ counter }, () => prisma.post.findUnique({ where: { id: post.id } }))).toMatchObject({ title: post.title });
    }, 120_000);
  });
});
