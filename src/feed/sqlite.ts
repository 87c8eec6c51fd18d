/**
 * The SQLite change feed source. SQLite keeps no log another process can
 * read, but `PRAGMA data_version`, read on a connection of the feed's own,
 * changes whenever another connection (of this process or another) commits.
 * The source polls it, read-only, and reports each change as "anything may
 * have changed": it knows neither the tables nor the rows a write touched.
 * data_version belongs to one connection, so there is no position to resume
 * from: every start is fresh.
 *
 * `better-sqlite3` is an optional package, loaded when the source starts.
 * @module
 */
import { type Stats, statSync } from "node:fs";
import { CacheUsageError, FeedSetupError } from "../errors.js";
import type { FeedSink, FeedSource } from "./source.js";

/** Options of {@link sqliteSource}. */
export interface SqliteSourceOptions {
  /**
   * `file:` URL or path of the database file (as the better-sqlite3 Prisma
   * adapter takes it: the `file:` prefix is dropped, and a relative path is
   * relative to the process's working directory). The file must exist.
   */
  url: string;
  /** How often data_version is read. @default 50 (ms) */
  pollMs?: number;
}

/** Default of {@link SqliteSourceOptions.pollMs}. */
const DEFAULT_POLL_MS = 50;

/**
 * How long the database may stay locked against the feed's reads
 * (`SQLITE_BUSY`: a writer holds an exclusive lock) before the feed fails.
 * Polls skip while it lasts: the connection never waits on a lock, since
 * better-sqlite3 would block the event loop for that long.
 */
const BUSY_LIMIT_MS = 5_000;

/** The statement the source polls. */
const DATA_VERSION = "PRAGMA data_version";

/** Reason of the events the source pushes. */
const REASON = "sqlite data_version";

/**
 * The package name, held in a variable so that neither the TypeScript
 * compiler nor a bundler resolves the optional package at build time.
 */
const DRIVER_PACKAGE = "better-sqlite3";

/** The part of better-sqlite3's statement the source uses. */
interface DriverStatement {
  pluck(toggle?: boolean): DriverStatement;
  get(): unknown;
}

/** The part of a better-sqlite3 connection the source uses. */
interface DriverConnection {
  prepare(sql: string): DriverStatement;
  close(): void;
}

/** better-sqlite3's `Database` constructor. */
type Driver = new (filename: string, options: { readonly: boolean; fileMustExist: boolean; timeout: number }) => DriverConnection;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const codeOf = (err: unknown): string | undefined => {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
};
/** Whether `err` is SQLite's "the database is locked" (any extended code of SQLITE_BUSY or SQLITE_LOCKED). */
const isBusy = (err: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test(codeOf(err) ?? "");

/** Loads better-sqlite3. @throws FeedSetupError (`better-sqlite3`) when it is not installed. */
async function loadDriver(): Promise<Driver> {
  let mod: { default?: unknown };
  try {
    mod = await import(/* @vite-ignore */ DRIVER_PACKAGE);
  } catch (err) {
    throw new FeedSetupError(
      DRIVER_PACKAGE,
      `The SQLite change feed needs the package better-sqlite3 (npm install better-sqlite3), which could not be loaded: ${messageOf(err)}`,
    );
  }
  const driver = mod.default ?? mod;
  if (typeof driver !== "function") throw new FeedSetupError(DRIVER_PACKAGE, "The package better-sqlite3 does not export its Database class.");
  return driver as Driver;
}

/**
 * The database file's path in `url`, as the better-sqlite3 Prisma adapter
 * reads it.
 */
const pathOf = (url: string): string => url.replace(/^file:/, "");

/** One run of the source, from start() to stop() or to its failure. */
class Watch {
  /** Set by stop() or by a failure: no poll, push or fail after it. */
  private ended = false;
  private db: DriverConnection | undefined;
  private statement: DriverStatement | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The file opened: a poll fails once the path names no file, or another one. */
  private identity: Stats | undefined;
  /** The last data_version read (undefined until one is read). */
  private last: string | undefined;
  /** Since when (performance.now()) reads have found the database locked, undefined when the last read did not. */
  private busySince: number | undefined;

  constructor(
    private readonly url: string,
    private readonly pollMs: number,
    private readonly sink: FeedSink,
  ) {}

  /** Whether this run still polls, or will once open() returns. */
  get active(): boolean {
    return !this.ended;
  }

  /** Opens the database read-only, reads the first data_version and starts polling. */
  async open(): Promise<void> {
    const { url } = this;
    const path = pathOf(url);
    if (path === "" || path === ":memory:") {
      throw new FeedSetupError(
        url,
        `The SQLite change feed needs a database file; the url "${url}" names none (an in-memory database has no other connections).`,
      );
    }
    const Driver = await loadDriver();
    if (this.ended) return;
    let identity: Stats | undefined;
    try {
      identity = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      throw new FeedSetupError(url, `The SQLite change feed cannot read the database file ${path} (url "${url}"): ${messageOf(err)}`);
    }
    if (!identity) throw new FeedSetupError(url, `The SQLite change feed found no database file at ${path} (url "${url}"); it watches an existing file.`);
    if (!identity.isFile()) throw new FeedSetupError(url, `The SQLite change feed's url "${url}" names ${path}, which is not a file.`);
    let db: DriverConnection;
    try {
      db = new Driver(path, { readonly: true, fileMustExist: true, timeout: 0 });
    } catch (err) {
      // An error without a SQLite code comes from the package itself (its native module failed to load).
      const setting = codeOf(err)?.startsWith("SQLITE_") ? url : DRIVER_PACKAGE;
      throw new FeedSetupError(setting, `The SQLite change feed cannot open ${path} (url "${url}") read-only: ${messageOf(err)}`);
    }
    try {
      this.statement = db.prepare(DATA_VERSION).pluck();
      // A locked database leaves the first version unknown: the first poll that reads one then pushes.
      this.last = this.read();
    } catch (err) {
      db.close();
      throw new FeedSetupError(url, `The SQLite change feed cannot read ${path} (url "${url}") as a SQLite database: ${messageOf(err)}`);
    }
    this.db = db;
    this.identity = identity;
    this.schedule();
  }

  /** Stops polling and closes the connection. Never throws. */
  stop(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const db = this.db;
    this.db = undefined;
    this.statement = undefined;
    try {
      db?.close();
    } catch {
      // Closing a connection that only reads has nothing to lose.
    }
  }

  private schedule(): void {
    if (this.ended) return;
    this.timer = setTimeout(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** One poll: pushes when data_version moved, and schedules the next poll once the push resolves. */
  private poll(): void {
    this.timer = undefined;
    if (this.ended) return;
    let version: string | undefined;
    try {
      this.checkFile();
      version = this.read();
    } catch (err) {
      this.fail(err);
      return;
    }
    if (version === undefined || version === this.last) {
      this.schedule();
      return;
    }
    this.last = version;
    let pushed: Promise<void>;
    try {
      pushed = this.sink.push([{ kind: "everything", reason: REASON }], version);
    } catch (err) {
      this.fail(err);
      return;
    }
    pushed.then(
      () => this.schedule(),
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * Reads data_version: undefined while the database is locked, for up to
   * {@link BUSY_LIMIT_MS}.
   * @throws the read's error, or the lock's once it outlasts the limit.
   */
  private read(): string | undefined {
    try {
      const version = String(this.statement!.get());
      this.busySince = undefined;
      return version;
    } catch (err) {
      if (!isBusy(err)) throw err;
      const now = performance.now();
      this.busySince ??= now;
      if (now - this.busySince < BUSY_LIMIT_MS) return undefined;
      throw new Error(`The SQLite database ${pathOf(this.url)} stayed locked against the change feed's reads for ${BUSY_LIMIT_MS} ms (${codeOf(err)}).`, {
        cause: err,
      });
    }
  }

  /**
   * A connection keeps reading a file deleted or replaced under it, and
   * sees no commit made to the new file: checks that the path still names
   * the file opened.
   * @throws when it does not.
   */
  private checkFile(): void {
    const path = pathOf(this.url);
    const now = statSync(path, { throwIfNoEntry: false });
    if (!now) throw new Error(`The SQLite database file ${path} was deleted under the change feed.`);
    if (now.ino !== this.identity!.ino || now.dev !== this.identity!.dev)
      throw new Error(`The SQLite database file ${path} was replaced under the change feed.`);
  }

  /** Ends the run and tells the sink, once. */
  private fail(err: unknown): void {
    if (this.ended) return;
    this.stop();
    this.sink.fail(asError(err));
  }
}

/**
 * A change feed source for SQLite: polls `PRAGMA data_version` every
 * `pollMs` on a read-only connection of its own, and pushes an
 * `everything` event each time it moved (another connection committed),
 * with the new version as the position. It awaits each push before the
 * next poll; its timer never keeps the process alive. The journal mode
 * (WAL or rollback) does not matter.
 *
 * `keepsPosition` is false and start() always resolves `{ fresh: true }`:
 * data_version means nothing to another connection. A poll fails the sink
 * (once, then polling stops) when the file is deleted or replaced, or stays
 * locked against reads for 5 seconds.
 *
 * start() throws {@link FeedSetupError}: `better-sqlite3` when that package
 * is not installed, the url when it names no database file.
 * @throws CacheUsageError when `pollMs` is not a positive number.
 */
export function sqliteSource(options: SqliteSourceOptions): FeedSource {
  const { url } = options;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  if (typeof pollMs !== "number" || !Number.isFinite(pollMs) || pollMs <= 0) {
    throw new CacheUsageError(`sqliteSource: pollMs must be a positive number of milliseconds, got ${String(pollMs)}.`);
  }
  let watch: Watch | undefined;
  return {
    kind: "sqlite",
    keepsPosition: false,
    async start(sink) {
      if (watch?.active) throw new CacheUsageError("sqliteSource: start() was called while the source runs; stop() it first.");
      const current = new Watch(url, pollMs, sink);
      watch = current;
      try {
        await current.open();
      } catch (err) {
        current.stop();
        throw err;
      }
      return { fresh: true };
    },
    async acknowledge() {
      // data_version is not kept anywhere: nothing to acknowledge.
    },
    async stop() {
      watch?.stop();
    },
  };
}
