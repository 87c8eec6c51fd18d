/**
 * The MySQL/MariaDB change feed source (src/feed/mysql.ts) alone, against
 * the run's real MariaDB (project `mariadb`, whose server writes a row
 * binlog: test/support/mariadb.ts): plain SQL writes in a database of this
 * file's own reach a recording sink as row events, one push per
 * transaction, each with the position after its commit; a restart from a
 * pushed position replays exactly what came after it; TRUNCATE and other
 * DDL become `tables` events; a server not logging rows and a user without
 * replication rights are refused with the setting to change; stop()
 * resolves, closes its connections and pushes nothing after.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FeedSetupError } from "../../src/errors";
import { type MysqlSourceOptions, mysqlSource } from "../../src/feed/mysql";
import type { FeedEvent, FeedSink, FeedSource, RowEvent } from "../../src/feed/source";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { withMariadb } from "../support/mariadb";
import { driverUrl } from "../support/providers";

/** How long a condition may take to come true. */
const WAIT = { timeout: 15_000, interval: 25 };

/** What a sink was given. */
interface Recording {
  sink: FeedSink;
  pushes: { events: readonly FeedEvent[]; position: string; committedAt?: number }[];
  failures: Error[];
  warnings: string[];
  /** Every event pushed, in order. */
  events(): FeedEvent[];
  /** The row events pushed, without empty pushes and `tables` events. */
  rows(): RowEvent[];
}

function recording(): Recording {
  const r: Recording = {
    pushes: [],
    failures: [],
    warnings: [],
    sink: {
      push: async (events, position, committedAt) => void r.pushes.push({ events, position, committedAt }),
      fail: (err) => void r.failures.push(err),
      warn: (message) => void r.warnings.push(message),
    },
    events: () => r.pushes.flatMap((p) => p.events),
    rows: () => r.events().filter((e): e is RowEvent => e.kind !== "tables" && e.kind !== "everything"),
  };
  return r;
}

const ident = (name: string) => `\`${name.replace(/`/g, "``")}\``;

// Only the `mariadb` project runs this file (vitest.config.ts, FEED_MYSQL): its database is MariaDB.
describe("MySQL change feed source", () => {
  let db: TestDatabase;
  /** The test database's URL as a driver takes it. */
  let url: string;
  const sources: FeedSource[] = [];
  const users: string[] = [];

  /** Runs SQL (several statements allowed) on the test database, autocommitted, in a connection of its own. */
  const sql = (text: string, params: unknown[] = []) => withMariadb(url, (c) => c.query(text, params));

  /** A source on the test database, stopped after the file. */
  const source = (options: Partial<MysqlSourceOptions> = {}) => {
    const s = mysqlSource({ url, ...options });
    sources.push(s);
    return s;
  };

  /** `url` as another user. */
  const urlAs = (user: string, password: string) => {
    const u = new URL(url);
    u.username = user;
    u.password = password;
    return u.toString();
  };

  /** A user of its own (dropped after the file) with `grants`, e.g. `SELECT ON db.*`. */
  const createUser = async (grants: string[]): Promise<string> => {
    const name = `ptc_feed_${randomBytes(3).toString("hex")}`;
    const password = "feed-test";
    await withMariadb(url, async (c) => {
      await c.query(`CREATE USER '${name}'@'%' IDENTIFIED BY '${password}'`);
      users.push(name);
      for (const g of grants) await c.query(`GRANT ${g} TO '${name}'@'%'`);
    });
    return urlAs(name, password);
  };

  /** A `file:offset` position as its two parts. */
  const split = (position: string) => ({ file: position.slice(0, position.lastIndexOf(":")), offset: Number(position.slice(position.lastIndexOf(":") + 1)) });

  /** The end of the binlog now, as `file:offset`. */
  const binlogEnd = async () => {
    const [row] = await withMariadb(url, (c) => c.query("SHOW MASTER STATUS"));
    return `${row.File}:${row.Position}`;
  };

  /** The binlog event that ends at `position` (a pushed `file:offset`), as SHOW BINLOG EVENTS lists it from `mark` (an earlier {@link binlogEnd}) on. */
  const eventEndingAt = async (position: string, mark: string) => {
    const at = split(position);
    const from = split(mark);
    const events: Array<{ Event_type: string; End_log_pos: number | bigint }> = await withMariadb(url, (c) =>
      c.query("SHOW BINLOG EVENTS IN ? FROM ?", [at.file, at.file === from.file ? from.offset : 4]),
    );
    return events.find((e) => Number(e.End_log_pos) === at.offset);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    url = driverUrl(db.url);
  });

  afterAll(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    for (const u of users) await withMariadb(url, (c) => c.query(`DROP USER IF EXISTS '${u}'@'%'`)).catch(() => undefined);
    await db?.drop();
  });

  it("pushes plain SQL inserts, updates and deletes as row events, one push per transaction, at the position after its commit", async () => {
    const rec = recording();
    const src = source({ tables: new Set(["User", "Tag"]) });
    expect(src.kind).toBe("mysql");
    expect(src.keepsPosition).toBe(false);
    await expect(src.start(rec.sink, undefined)).resolves.toEqual({ fresh: true });
    const mark = await binlogEnd();

    await sql("INSERT INTO `User` (id, email, name, createdAt) VALUES (101, 'a@example.com', 'Ann', '2024-02-29 23:59:59.999')");
    await sql(
      "BEGIN; UPDATE `User` SET name = 'Anna' WHERE id = 101; INSERT INTO `Post` (id, title) VALUES (101, 'not read');" +
        " INSERT INTO `Tag` (id, name) VALUES (101, 'news'); DELETE FROM `Tag` WHERE id = 101; COMMIT",
    );
    await sql("DELETE FROM `User` WHERE id = 101");
    await vi.waitFor(() => expect(rec.rows()).toHaveLength(5), WAIT);

    const ann = { id: 101, email: "a@example.com", name: "Ann", role: "USER", managerId: null, createdAt: new Date("2024-02-29T23:59:59.999Z") };
    const anna = { ...ann, name: "Anna" };
    const tag = { id: 101, name: "news" };
    const full = rec.pushes.filter((p) => p.events.length > 0);
    expect(full.map((p) => p.events)).toEqual([
      [{ kind: "insert", table: "User", schema: db.name, oldComplete: false, new: ann }],
      [
        { kind: "update", table: "User", schema: db.name, old: ann, oldComplete: true, new: anna },
        { kind: "insert", table: "Tag", schema: db.name, oldComplete: false, new: tag },
        { kind: "delete", table: "Tag", schema: db.name, old: tag, oldComplete: true },
      ],
      [{ kind: "delete", table: "User", schema: db.name, old: anna, oldComplete: true }],
    ]);
    expect(rec.failures).toEqual([]);
    expect(rec.warnings).toEqual([]);
    // Each position is the end of its transaction's commit, in log order.
    for (const p of full) expect(await eventEndingAt(p.position, mark)).toMatchObject({ Event_type: "Xid" });
    // When each was committed, from the binlog (whole seconds).
    for (const p of rec.pushes) expect(Math.abs(Date.now() - p.committedAt!)).toBeLessThan(60_000);
    const offsets = rec.pushes.map((p) => Number(p.position.split(":").at(-1)));
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it("continues from a pushed position: replays exactly what came after it, none lost, none before", async () => {
    const first = recording();
    const a = source({ tables: new Set(["Tag"]) });
    await a.start(first.sink, undefined);
    await sql("INSERT INTO `Tag` (id, name) VALUES (201, 't201')");
    await vi.waitFor(() => expect(first.rows()).toHaveLength(1), WAIT);
    const saved = first.pushes.find((p) => p.events.length > 0)!.position;
    await sql("INSERT INTO `Tag` (id, name) VALUES (202, 't202')");
    await sql("UPDATE `Tag` SET name = 't202b' WHERE id = 202");
    await vi.waitFor(() => expect(first.rows()).toHaveLength(3), WAIT);
    await a.stop();
    // Written while no source reads.
    await sql("INSERT INTO `Tag` (id, name) VALUES (203, 't203')");

    const second = recording();
    const b = source({ tables: new Set(["Tag"]) });
    await expect(b.start(second.sink, saved)).resolves.toEqual({ fresh: false });
    await sql("INSERT INTO `Tag` (id, name) VALUES (204, 't204')");
    await vi.waitFor(() => expect(second.rows().map((e) => e.new?.id ?? e.old?.id)).toContain(204), WAIT);
    expect(second.rows().map((e) => [e.kind, e.new?.name])).toEqual([
      ["insert", "t202"],
      ["update", "t202b"],
      ["insert", "t203"],
      ["insert", "t204"],
    ]);
    // The transactions both read are pushed at the same positions.
    const positions = (r: Recording) => r.pushes.filter((p) => p.events.length > 0).map((p) => p.position);
    expect(positions(second).slice(0, 2)).toEqual(positions(first).slice(1, 3));
    expect(second.failures).toEqual([]);
  });

  it("reads on only once the sink has taken a push (backpressure)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = recording();
    const push = held.sink.push;
    // The first push with events resolves only when released.
    held.sink.push = async (events, position, committedAt) => {
      await push(events, position, committedAt);
      if (events.length > 0 && held.rows().length === events.length) await gate;
    };
    const witness = recording();
    await source({ tables: new Set(["Tag"]) }).start(held.sink, undefined);
    await sql("INSERT INTO `Tag` (id, name) VALUES (401, 't401')");
    await vi.waitFor(() => expect(held.rows()).toHaveLength(1), WAIT);
    await source({ tables: new Set(["Tag"]) }).start(witness.sink, held.pushes.at(-1)!.position);
    await sql("INSERT INTO `Tag` (id, name) VALUES (402, 't402')");
    await sql("INSERT INTO `Tag` (id, name) VALUES (403, 't403')");
    // Once a source that is not held back has both, the held one has read neither.
    await vi.waitFor(() => expect(witness.rows()).toHaveLength(2), WAIT);
    expect(held.rows().map((e) => e.new?.id)).toEqual([401]);
    release();
    await vi.waitFor(() => expect(held.rows().map((e) => e.new?.id)).toEqual([401, 402, 403]), WAIT);
    expect(held.failures).toEqual([]);
  });

  it("starts afresh, with a warning, from a position the server no longer has", async () => {
    const rec = recording();
    await expect(source().start(rec.sink, "no-such-binlog.000001:4")).resolves.toEqual({ fresh: true });
    expect(rec.warnings.join("\n")).toMatch(/starts afresh/);
  });

  it("pushes TRUNCATE and other DDL on the database as tables events, and skips tables not read", async () => {
    const rec = recording();
    await source({ tables: new Set(["Tag", "comments", "feed_ddl", "feed_ddl2"]) }).start(rec.sink, undefined);
    const mark = await binlogEnd();
    // Foreign keys of other tables refer to these; TRUNCATE refuses such a table while they are checked.
    await sql("SET FOREIGN_KEY_CHECKS = 0; TRUNCATE TABLE `Tag`");
    await sql("SET FOREIGN_KEY_CHECKS = 0; TRUNCATE `Group`"); // not read
    await sql(`TRUNCATE ${ident(db.name)}.comments`);
    await sql("CREATE TABLE feed_ddl (id INT PRIMARY KEY)");
    await sql("ALTER TABLE feed_ddl ADD COLUMN n INT");
    await sql("RENAME TABLE feed_ddl TO feed_ddl2");
    await sql("DROP TABLE feed_ddl2");
    await sql("CREATE INDEX feed_idx ON `Tag` (name)");
    const tables = (table: string, reason: string) => ({ kind: "tables", tables: [{ table, schema: db.name }], reason });
    const expected = [
      tables("Tag", "truncate"),
      tables("comments", "truncate"),
      tables("feed_ddl", "ddl"),
      tables("feed_ddl", "ddl"),
      {
        kind: "tables",
        tables: [
          { table: "feed_ddl", schema: db.name },
          { table: "feed_ddl2", schema: db.name },
        ],
        reason: "ddl",
      },
      tables("feed_ddl2", "ddl"),
      { kind: "everything", reason: expect.stringMatching(/CREATE INDEX/) },
    ];
    await vi.waitFor(() => expect(rec.events()).toHaveLength(expected.length), WAIT);
    expect(rec.events()).toEqual(expected);
    // Each statement is pushed alone, at the end of its own event.
    for (const p of rec.pushes.filter((p) => p.events.length > 0)) expect(await eventEndingAt(p.position, mark)).toMatchObject({ Event_type: "Query" });
  });

  it("is refused with FeedSetupError naming binlog_format when the server does not log rows", async () => {
    const rec = recording();
    try {
      await withMariadb(url, (c) => c.query("SET GLOBAL binlog_format = 'STATEMENT'"));
      const err = await source()
        .start(rec.sink, undefined)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(FeedSetupError);
      expect(err).toMatchObject({ setting: "binlog_format", code: "PTC_FEED_SETUP" });
      expect((err as Error).message).toMatch(/binlog_format = ROW/);
      expect((err as Error).message).toMatch(/keeps working without the feed/);
    } finally {
      await withMariadb(url, (c) => c.query("SET GLOBAL binlog_format = 'ROW'"));
    }
    expect(rec.pushes).toEqual([]);
  });

  it("is refused with FeedSetupError naming REPLICATION SLAVE for a user without replication rights", async () => {
    // Neither right: SHOW MASTER STATUS is refused. The binlog monitor right alone: the binlog dump is.
    for (const grants of [[`SELECT ON ${ident(db.name)}.*`], [`SELECT ON ${ident(db.name)}.*`, "REPLICATION CLIENT ON *.*"]]) {
      const rec = recording();
      const err = await source({ url: await createUser(grants) })
        .start(rec.sink, undefined)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, grants.join(", ")).toBeInstanceOf(FeedSetupError);
      expect(err).toMatchObject({ setting: "REPLICATION SLAVE" });
      expect((err as Error).message).toMatch(/GRANT REPLICATION SLAVE, REPLICATION CLIENT/);
      expect((err as Error).message).toMatch(/keeps working without the feed/);
      expect(rec.pushes).toEqual([]);
    }
  });

  it("stop() resolves, closes its connections, and pushes nothing after", async () => {
    const feedUrl = await createUser([`SELECT ON ${ident(db.name)}.*`, "REPLICATION SLAVE, REPLICATION CLIENT ON *.*"]);
    const user = new URL(feedUrl).username;
    const threads = async () =>
      (await withMariadb(url, (c) => c.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?", [user])))[0].n;
    const stopped = recording();
    const src = source({ url: feedUrl, tables: new Set(["Tag"]) });
    await src.start(stopped.sink, undefined);
    expect(Number(await threads())).toBeGreaterThan(0);
    await sql("INSERT INTO `Tag` (id, name) VALUES (301, 't301')");
    await vi.waitFor(() => expect(stopped.rows()).toHaveLength(1), WAIT);

    // A second source reads on: once it has the later write, the stopped one would have had it too.
    const witness = recording();
    await source({ tables: new Set(["Tag"]) }).start(witness.sink, stopped.pushes.at(-1)!.position);
    await expect(src.stop()).resolves.toBeUndefined();
    const pushed = stopped.pushes.length;
    await sql("INSERT INTO `Tag` (id, name) VALUES (302, 't302')");
    await vi.waitFor(() => expect(witness.rows().map((e) => e.new?.id)).toContain(302), WAIT);
    expect(stopped.pushes).toHaveLength(pushed);
    expect(stopped.failures).toEqual([]);
    await vi.waitFor(async () => expect(Number(await threads())).toBe(0), WAIT);
    await expect(src.stop()).resolves.toBeUndefined();
  });
});
