/**
 * The SQLite change feed source (src/feed/sqlite.ts) on its own, on real
 * database files, with a sink that records what it is given: a commit by
 * another connection (better-sqlite3, or Prisma through the better-sqlite3
 * adapter), in rollback-journal or WAL mode, is pushed as an `everything`
 * event; no commit, nothing; a poll waits for the push before it; a file
 * deleted, replaced or locked for too long fails the sink once and ends the
 * polling; stop() ends it too; a missing file, or a missing better-sqlite3,
 * rejects start().
 *
 * Polls are counted, not timed: every read of `PRAGMA data_version` made by
 * any connection of this process is recorded (better-sqlite3's statement
 * `get` is wrapped), by statement, so a test waits for a number of the
 * source's reads. "Nothing happens" is checked against another source, a
 * clock, that polls the same way: after the clock's reads, a source that
 * still polled would have read too. Every wait is bounded.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FeedSetupError } from "../../src/errors";
import type { FeedEvent, FeedSink, FeedSource } from "../../src/feed/source";
import { sqliteSource } from "../../src/feed/sqlite";
import { createClient, createTestDatabase, provider, type TestDatabase } from "../support/db";
import { sqliteUrl } from "../support/sqlite";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DATA_VERSION = "PRAGMA data_version";
const EVERYTHING: FeedEvent[] = [{ kind: "everything", reason: "sqlite data_version" }];
/** The pollMs the tests give: small, so that counted polls come quickly. */
const POLL_MS = 5;
/** Bound of every wait but the lock test's. */
const WAIT_MS = 10_000;

/** The part of better-sqlite3 the tests use (the package ships no types). */
interface Statement {
  readonly source: string;
  get(...params: unknown[]): unknown;
}
interface Connection {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple: boolean }): unknown;
  close(): void;
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string, options?: object) => Connection;

/** One read of data_version by some connection: the version read, or the error thrown. */
interface Read {
  statement: Statement;
  version?: string;
  error?: unknown;
}
const reads: Read[] = [];
/** Statements already taken by a {@link Watched} source. */
const claimed = new Set<Statement>();

/** A source started on a recording sink. */
interface Watched {
  source: FeedSource;
  pushes: { events: readonly FeedEvent[]; position: string }[];
  failures: Error[];
  /** The source's reads of data_version, oldest first (the first is the one start() makes). */
  reads(): Read[];
}

const running: FeedSource[] = [];
const writers: Connection[] = [];
const databases: TestDatabase[] = [];

const fileOf = (url: string): string => url.replace(/^file:/, "");

/** Waits until `done()` holds; fails naming `what` after `timeout` ms. */
async function until(what: string, done: () => boolean, timeout = WAIT_MS): Promise<void> {
  await vi.waitFor(
    () => {
      if (!done()) throw new Error(`timed out waiting for ${what}`);
    },
    { timeout, interval: 2 },
  );
}

/** Waits until `w` has read data_version `n` more times. */
async function polls(w: Watched, n: number): Promise<void> {
  const target = w.reads().length + n;
  await until(`${n} more polls`, () => w.reads().length >= target);
}

/** A migrated database file of its own. */
async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

/** A second, writing connection to the file of `url`. */
function writer(url: string): Connection {
  const c = new Database(fileOf(url));
  writers.push(c);
  return c;
}

let users = 0;
const insertUser = (c: Connection) => c.exec(`INSERT INTO "User" (email) VALUES ('user${++users}@example.com')`);

/**
 * Starts `sqliteSource({ url, pollMs })` on a recording sink whose push
 * resolves when `onPush` does (at once without it).
 */
async function watch(url: string, onPush?: () => Promise<void>, pollMs = POLL_MS): Promise<Watched> {
  const source = sqliteSource({ url, pollMs });
  const w: Watched = { source, pushes: [], failures: [], reads: () => [] };
  const sink: FeedSink = {
    push: async (events, position) => {
      w.pushes.push({ events, position });
      await onPush?.();
    },
    fail: (err) => void w.failures.push(err),
    warn: (message) => {
      throw new Error(`unexpected warning: ${message}`);
    },
  };
  const from = reads.length;
  running.push(source);
  await expect(source.start(sink, undefined)).resolves.toEqual({ fresh: true });
  const first = reads.slice(from).find((r) => !claimed.has(r.statement));
  if (!first) throw new Error("start() read no data_version");
  claimed.add(first.statement);
  w.reads = () => reads.filter((r) => r.statement === first.statement);
  return w;
}

/** A settable promise, for a push that resolves when the test says. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("sqliteSource: the SQLite change feed", () => {
  let restoreGet: () => void;

  beforeAll(() => {
    expect(provider(), "run this file in the sqlite project").toBe("sqlite");
    const probe = new Database(":memory:");
    const prototype = Object.getPrototypeOf(probe.prepare("SELECT 1")) as { get(this: Statement, ...params: unknown[]): unknown };
    probe.close();
    const get = prototype.get;
    prototype.get = function (this: Statement, ...params: unknown[]) {
      if (this.source !== DATA_VERSION) return get.apply(this, params);
      try {
        const version = get.apply(this, params);
        reads.push({ statement: this, version: String(version) });
        return version;
      } catch (error) {
        reads.push({ statement: this, error });
        throw error;
      }
    };
    restoreGet = () => void (prototype.get = get);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
    for (const c of writers.splice(0)) c.close();
  });

  afterAll(async () => {
    restoreGet?.();
    await Promise.all(databases.splice(0).map((db) => db.drop()));
  });

  it("is a SQLite source that keeps no position", () => {
    const source = sqliteSource({ url: "file:unused.db" });
    expect(source.kind).toBe("sqlite");
    expect(source.keepsPosition).toBe(false);
  });

  it("pushes a commit of another connection (rollback journal) as everything, at the new data_version", async () => {
    const db = await database();
    const other = writer(db.url);
    expect(other.pragma("journal_mode", { simple: true })).toBe("delete");
    const w = await watch(db.url);
    const baseline = w.reads()[0]!.version;
    await polls(w, 3);
    expect(w.pushes).toEqual([]);

    insertUser(other);
    await until("the push", () => w.pushes.length === 1);
    expect(w.pushes[0]!.events).toEqual(EVERYTHING);
    const position = w.pushes[0]!.position;
    expect(position).toMatch(/^\d+$/);
    expect(position).not.toBe(baseline);
    expect(w.reads().map((r) => r.version)).toContain(position);

    // One commit, one push: the version stays where it moved to.
    await polls(w, 5);
    expect(w.pushes).toHaveLength(1);
    insertUser(other);
    await until("the second push", () => w.pushes.length === 2);
    expect(w.pushes[1]!.position).not.toBe(position);
    expect(w.failures).toEqual([]);
  });

  it("pushes nothing over polls without a commit", async () => {
    const db = await database();
    const w = await watch(db.url);
    await polls(w, 10);
    expect(w.pushes).toEqual([]);
    expect(w.failures).toEqual([]);
    expect(new Set(w.reads().map((r) => r.version)).size).toBe(1);
  });

  it("pushes a commit in WAL mode, opened read-only with no -wal or -shm file yet", async () => {
    const db = await database();
    const setup = new Database(fileOf(db.url));
    expect(setup.pragma("journal_mode = WAL", { simple: true })).toBe("wal");
    setup.close(); // The last connection to close removes the -wal and -shm files.
    const w = await watch(db.url);
    const other = writer(db.url);
    expect(other.pragma("journal_mode", { simple: true })).toBe("wal");
    await polls(w, 3);
    expect(w.pushes).toEqual([]);

    insertUser(other);
    await until("the push", () => w.pushes.length === 1);
    expect(w.pushes[0]!.events).toEqual(EVERYTHING);
    insertUser(other);
    await until("the second push", () => w.pushes.length === 2);
    expect(w.failures).toEqual([]);
  });

  it("pushes a write made through Prisma's better-sqlite3 adapter", async () => {
    const db = await database();
    const w = await watch(db.url);
    const { prisma } = createClient(db.url);
    try {
      await prisma.user.create({ data: { email: "prisma@example.com" } });
      await until("the push", () => w.pushes.length >= 1);
      expect(w.pushes[0]!.events).toEqual(EVERYTHING);
    } finally {
      await prisma.$disconnect();
    }
  });

  it("reads no further until the consumer takes the push (no overlapping polls)", async () => {
    const db = await database();
    const other = writer(db.url);
    const held = gate();
    let pushes = 0;
    const w = await watch(db.url, () => (++pushes === 1 ? held.promise : Promise.resolve()));
    const clock = await watch(db.url);

    insertUser(other);
    await until("the first push", () => w.pushes.length === 1);
    const readsWhileHeld = w.reads().length;
    insertUser(other);
    await polls(clock, 10);
    expect(w.reads()).toHaveLength(readsWhileHeld);
    expect(w.pushes).toHaveLength(1);

    held.open();
    await until("the second push", () => w.pushes.length === 2);
    expect(Number(w.pushes[1]!.position)).toBeGreaterThan(Number(w.pushes[0]!.position));
  });

  it("rejects start() with FeedSetupError naming the url when the file does not exist, and creates none", async () => {
    const db = await database();
    const file = path.join(path.dirname(fileOf(db.url)), `missing-${process.pid}.db`);
    const url = sqliteUrl(file);
    const source = sqliteSource({ url });
    running.push(source);
    const sink: FeedSink = { push: async () => {}, fail: () => {}, warn: () => {} };
    const err = await source.start(sink, undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FeedSetupError);
    expect((err as FeedSetupError).setting).toBe(url);
    expect((err as FeedSetupError).message).toContain(url);
    expect(existsSync(file)).toBe(false);
    await expect(source.stop()).resolves.toBeUndefined();

    const memory = sqliteSource({ url: "file::memory:" });
    await expect(memory.start(sink, undefined)).rejects.toBeInstanceOf(FeedSetupError);
  });

  it("rejects start() with FeedSetupError naming better-sqlite3 when that package cannot be loaded", async () => {
    const db = await database();
    vi.resetModules();
    vi.doMock("better-sqlite3", () => {
      throw new Error("Cannot find package 'better-sqlite3'");
    });
    try {
      const { sqliteSource: withoutPackage } = await import("../../src/feed/sqlite");
      const sink: FeedSink = { push: async () => {}, fail: () => {}, warn: () => {} };
      const err = await withoutPackage({ url: db.url })
        .start(sink, undefined)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(FeedSetupError);
      expect((err as FeedSetupError).setting).toBe("better-sqlite3");
      expect((err as FeedSetupError).message).toContain("npm install better-sqlite3");
    } finally {
      vi.doUnmock("better-sqlite3");
      vi.resetModules();
    }
  });

  it("stop() resolves, closes the polling, and nothing is pushed after it", async () => {
    const db = await database();
    const other = writer(db.url);
    const w = await watch(db.url);
    const clock = await watch(db.url);
    await polls(w, 2);
    await expect(w.source.stop()).resolves.toBeUndefined();
    const readsAtStop = w.reads().length;

    insertUser(other);
    await until("the clock's push", () => clock.pushes.length === 1);
    await polls(clock, 10);
    expect(w.reads()).toHaveLength(readsAtStop);
    expect(w.pushes).toEqual([]);
    expect(w.failures).toEqual([]);
    await expect(w.source.stop()).resolves.toBeUndefined();

    // The same source starts again, afresh.
    const again = await watch(db.url);
    insertUser(other);
    await until("the push after restart", () => again.pushes.length === 1);
  });

  it("fails the sink once and stops polling when the file is deleted", async () => {
    const db = await database();
    const w = await watch(db.url);
    const clock = await watch((await database()).url);
    await polls(w, 2);
    await rm(fileOf(db.url));
    await until("the failure", () => w.failures.length === 1);
    expect(w.failures[0]!.message).toContain("deleted");
    const readsAtFailure = w.reads().length;
    await polls(clock, 10);
    expect(w.failures).toHaveLength(1);
    expect(w.reads()).toHaveLength(readsAtFailure);
    expect(w.pushes).toEqual([]);
  });

  it("fails the sink when the file is replaced by another", async () => {
    const db = await database();
    const w = await watch(db.url);
    const file = fileOf(db.url);
    await copyFile(file, `${file}.new`);
    await rename(`${file}.new`, file);
    await until("the failure", () => w.failures.length === 1);
    expect(w.failures[0]!.message).toContain("replaced");
    expect(w.pushes).toEqual([]);
  });

  it("skips polls while the database is locked, and fails the sink once a lock lasts", async () => {
    const db = await database();
    const other = writer(db.url);
    const w = await watch(db.url);
    const busyReads = () => w.reads().filter((r) => (r.error as { code?: string } | undefined)?.code === "SQLITE_BUSY").length;

    // A short exclusive lock (rollback journal: readers get SQLITE_BUSY) only delays the push.
    other.exec("BEGIN EXCLUSIVE");
    await until("polls that find the database locked", () => busyReads() >= 3);
    insertUser(other);
    other.exec("COMMIT");
    await until("the push", () => w.pushes.length === 1);
    expect(w.failures).toEqual([]);

    // A lock held for longer than the source tolerates (5 s) fails it.
    other.exec("BEGIN EXCLUSIVE");
    try {
      await until("the failure", () => w.failures.length === 1, 20_000);
    } finally {
      other.exec("ROLLBACK");
    }
    expect((w.failures[0]!.cause as { code?: string }).code).toBe("SQLITE_BUSY");
    const readsAtFailure = w.reads().length;
    const clock = await watch(db.url);
    await polls(clock, 10);
    expect(w.failures).toHaveLength(1);
    expect(w.reads()).toHaveLength(readsAtFailure);
    expect(w.pushes).toHaveLength(1);
  }, 30_000);

  it("never keeps the process alive: a process that starts it and never stops it exits", async () => {
    const db = await database();
    const module = pathToFileURL(path.join(ROOT, "src/feed/sqlite.ts")).href;
    const script = [
      `import { sqliteSource } from ${JSON.stringify(module)};`,
      `const source = sqliteSource({ url: process.env.PTC_FEED_URL, pollMs: 5 });`,
      `await source.start({ push: async () => {}, fail: (err) => { console.error(err); process.exitCode = 1; }, warn: () => {} });`,
      `console.log("started");`,
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      env: { ...process.env, PTC_FEED_URL: db.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (c, s) => resolve([c, s]));
    }).finally(() => clearTimeout(timer));
    expect({ code, signal, output: output.trim() }).toEqual({ code: 0, signal: null, output: "started" });
  }, 30_000);
});
