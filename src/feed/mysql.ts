/**
 * The MySQL/MariaDB change feed source: the server's row binlog, read as a
 * replica reads it through `@vlasky/zongji` (an optional package, loaded when
 * the source starts), with `mysql2` (its own dependency) for the checks and
 * the metadata queries.
 *
 * What it needs of the server: `log_bin` on, `binlog_format = ROW`, and a
 * user with the REPLICATION SLAVE and REPLICATION CLIENT rights (BINLOG
 * MONITOR on MariaDB 10.5 and later, which REPLICATION CLIENT grants there)
 * plus SELECT on the tables read (the row events are decoded with their
 * columns from INFORMATION_SCHEMA). `binlog_row_image = FULL`, the default,
 * makes updates and deletes carry every column of the old row.
 *
 * Positions are `"<binlog file>:<offset>"`, each the end of a transaction's
 * commit, so the consumer keeps them ({@link FeedSource.keepsPosition} is
 * false) and a restart replays whole transactions only.
 * @module
 */
import type { AnyBinlogEvent, BinlogEventByName, BinlogEventName, default as ZongJiClass } from "@vlasky/zongji";
import type { Pool, PoolOptions, RowDataPacket } from "mysql2/promise";
import { CacheUsageError, FeedSetupError } from "../errors.js";
import type { FeedEvent, FeedSink, FeedSource, RowEvent } from "./source.js";

/** Options of {@link mysqlSource}. */
export interface MysqlSourceOptions {
  /**
   * `mysql://` or `mariadb://` URL of the database whose tables are read (its
   * database name = the schema filtered on). Query parameters read:
   * `socket` (a Unix socket path), `ssl=true` or `sslaccept=strict|accept_invalid_certs`,
   * `connect_timeout` (seconds).
   */
  url: string;
  /** Table names to read (others are skipped); undefined: every table of the database. */
  tables?: ReadonlySet<string>;
  /**
   * Replica server id announced to the server: unique among the server's
   * replicas and binlog readers (the server drops an older reader with the
   * same id). @default a random id from 2^20 to 2^32 - 1, never the server's own
   */
  serverId?: number;
}

/** How long one connection attempt may take, unless the URL's `connect_timeout` says otherwise. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long start() may take in all: the checks, the replica handshake and the first event. */
const START_TIMEOUT_MS = 30_000;
/** How long stop() waits for the reader and the connections to close before it resolves anyway. */
const STOP_TIMEOUT_MS = 3_000;
/** The heartbeat period the server is asked for while the binlog is idle. */
const HEARTBEAT_MS = 15_000;
/** Silence after which the stream is taken for dead (once the server has shown that it sends heartbeats). */
const SILENCE_MS = 3 * HEARTBEAT_MS;
/** A run of transactions of other databases or tables moves the pushed position at most this often. */
const IDLE_POSITION_MS = 1_000;
/** The binlog events the source reads (the others are left unparsed where the reader allows it). */
const EVENTS: BinlogEventName[] = [
  "rotate",
  "heartbeat",
  "gtid",
  "anonymousgtid",
  "mariadbgtid",
  "query",
  "xid",
  "xaprepare",
  "tablemap",
  "writerows",
  "updaterows",
  "deleterows",
];

type ZongJi = ZongJiClass;
type ZongJiConstructor = typeof ZongJiClass;
type Mysql2 = typeof import("mysql2/promise");

/** A rows event as the reader builds it: its columns-present bitmaps are there though not declared. */
type RowsEventLike = BinlogEventByName<"writerows" | "updaterows" | "deleterows"> & {
  columns_present_bitmap?: Buffer;
  columns_present_bitmap2?: Buffer;
};

const SUFFIX = "The cache keeps working without the feed (writes made outside the app are not seen until entries expire).";

/**
 * A change feed source reading the binlog of the MySQL or MariaDB server of
 * `options.url`: row events of that database (and of `options.tables`, when
 * given) become {@link RowEvent}s, pushed per transaction with the position
 * after its commit; `TRUNCATE`, `ALTER TABLE`, `DROP TABLE`, `RENAME TABLE`
 * and `CREATE TABLE` become a `tables` event, other statements on the
 * database an `everything` event.
 *
 * Nothing waits forever: each connection attempt times out after 10 s (the
 * URL's `connect_timeout` overrides it), start() after 30 s, stop() resolves
 * within about 3 s whatever the server does, and the stream fails (through
 * {@link FeedSink.fail}) when the server, having sent heartbeats, falls
 * silent for 45 s while nothing is being pushed.
 *
 * Row values are as the reader decodes them: integers (BIGINT too) as
 * numbers, or exact decimal strings beyond ±2^53; DECIMAL as strings; FLOAT
 * and DOUBLE as numbers (FLOAT's single precision widened, 0.1 reads
 * 0.10000000149011612); DATETIME and TIMESTAMP as `Date`s (DATETIME read as
 * UTC, millisecond precision); DATE as a `Date` at UTC midnight; TIME as a
 * string; YEAR as a number; JSON as its text; BLOB, BINARY and VARBINARY as
 * `Buffer`s; BOOLEAN (TINYINT(1)) as 0 or 1; ENUM, SET and MariaDB's UUID as
 * strings; NULL as null.
 */
export function mysqlSource(options: MysqlSourceOptions): FeedSource {
  let run: Run | undefined;
  return {
    kind: "mysql",
    keepsPosition: false,
    async start(sink, from) {
      if (run && !run.stopped) throw new CacheUsageError("The MySQL change feed source is already started; stop() it first.");
      const current = new Run(options, sink);
      run = current;
      return current.start(from);
    },
    async acknowledge() {},
    async stop() {
      await run?.stop();
    },
  };
}

/** A parsed `"<file>:<offset>"` position. */
interface BinlogPosition {
  file: string;
  offset: number;
}

/** Parses a position this source pushed, or undefined when `text` is not one. */
function parsePosition(text: string): BinlogPosition | undefined {
  const at = text.lastIndexOf(":");
  const offset = Number(text.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(text.slice(at + 1)) || !Number.isSafeInteger(offset) || offset < 4) return undefined;
  return { file: text.slice(0, at), offset };
}

/** Connection settings and database name from the source's URL. */
function connection(url: string): { pool: PoolOptions; database: string; user: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FeedSetupError("url", `The MySQL change feed's url is not a URL. Give a mysql:// or mariadb:// URL naming the database. ${SUFFIX}`);
  }
  if (u.protocol !== "mysql:" && u.protocol !== "mariadb:") {
    throw new FeedSetupError("url", `The MySQL change feed's url must be mysql:// or mariadb://, not ${u.protocol}//. ${SUFFIX}`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!database) throw new FeedSetupError("url", `The MySQL change feed's url names no database (mysql://user:password@host:3306/<database>). ${SUFFIX}`);
  const user = decodeURIComponent(u.username);
  const params = u.searchParams;
  const timeout = Number(params.get("connect_timeout"));
  const sslaccept = params.get("sslaccept");
  const ssl = sslaccept ? { rejectUnauthorized: sslaccept !== "accept_invalid_certs" } : params.get("ssl") === "true" ? {} : undefined;
  const socket = params.get("socket");
  return {
    database,
    user,
    pool: {
      ...(socket ? { socketPath: socket } : { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 3306) }),
      user,
      password: decodeURIComponent(u.password),
      ...(ssl ? { ssl } : {}),
      connectTimeout: timeout > 0 ? timeout * 1000 : CONNECT_TIMEOUT_MS,
      // DATETIME columns hold UTC (as Prisma writes them), whatever the process's time zone.
      timezone: "Z",
      // JSON as its text on MySQL too (MariaDB's JSON is text already).
      jsonStrings: true,
      // The checks, then the reader's metadata queries, one at a time; an idle connection is closed within a second or so.
      connectionLimit: 2,
      maxIdle: 0,
      idleTimeout: 1_000,
    },
  };
}

async function loadZongji(): Promise<ZongJiConstructor> {
  try {
    const m = await import("@vlasky/zongji");
    return m.default;
  } catch (err) {
    throw new FeedSetupError(
      "@vlasky/zongji",
      `The MySQL change feed reads the binlog with @vlasky/zongji, which is not installed: npm install @vlasky/zongji (${String(err)}). ${SUFFIX}`,
    );
  }
}

async function loadMysql2(): Promise<Mysql2> {
  try {
    const m = (await import("mysql2/promise")) as Mysql2 & { default?: Mysql2 };
    return m.default ?? m;
  } catch (err) {
    throw new FeedSetupError(
      "mysql2",
      `The MySQL change feed connects with mysql2 (a dependency of @vlasky/zongji) and cannot load it: npm install mysql2 (${String(err)}). ${SUFFIX}`,
    );
  }
}

/** The server's error number of `err`, if it has one. */
const errno = (err: unknown): number | undefined => (err as { errno?: number } | undefined)?.errno;

/**
 * The FeedSetupError for a missing replication right, when `err` is one:
 * the server's "Access denied; you need (at least one of) the ... privilege(s)".
 */
function rightsError(err: unknown, user: string): FeedSetupError | undefined {
  const message = String((err as Error | undefined)?.message ?? err);
  if (errno(err) !== 1227 && !/REPLICATION (SLAVE|CLIENT)|BINLOG MONITOR|BINLOG ADMIN|\bSUPER\b/i.test(message)) return undefined;
  return new FeedSetupError(
    "REPLICATION SLAVE",
    `The MySQL change feed's user ${JSON.stringify(user)} may not read the binlog (${message}). ` +
      `Grant it the replication rights: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'<host>' ` +
      `(REPLICATION SLAVE and BINLOG MONITOR on MariaDB 10.5 and later, where REPLICATION CLIENT grants BINLOG MONITOR). ${SUFFIX}`,
  );
}

/** The FeedSetupError for a login the server refuses (error 1045), when `err` is one. */
function loginError(err: unknown, user: string): FeedSetupError | undefined {
  if (errno(err) !== 1045) return undefined;
  return new FeedSetupError(
    "url",
    `The MySQL server refused the change feed's user ${JSON.stringify(user)} (${(err as Error).message}): check the user and password of its url. ${SUFFIX}`,
  );
}

/** The server settings the source reads before it starts. */
interface ServerSettings {
  logBin: boolean;
  format: string;
  rowImage: string;
  serverId: number;
  /** `lower_case_table_names` is not 0: database and table names compare without case. */
  foldCase: boolean;
}

async function readSettings(pool: Pool): Promise<ServerSettings> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT @@GLOBAL.log_bin AS logBin, @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS rowImage, " +
      "@@GLOBAL.server_id AS serverId, @@GLOBAL.lower_case_table_names AS lctn",
  );
  const row = rows[0] ?? {};
  return {
    logBin: row.logBin === 1 || row.logBin === "1" || String(row.logBin).toUpperCase() === "ON",
    format: String(row.format ?? "").toUpperCase(),
    rowImage: String(row.rowImage ?? "FULL").toUpperCase(),
    serverId: Number(row.serverId),
    foldCase: Number(row.lctn) !== 0,
  };
}

/** The end of the binlog now: SHOW MASTER STATUS, or its newer names where the server has dropped it. */
async function binlogEnd(pool: Pool): Promise<BinlogPosition | undefined> {
  const statements = ["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS", "SHOW BINLOG STATUS"];
  for (const [i, sql] of statements.entries()) {
    try {
      const [rows] = await pool.query<RowDataPacket[]>(sql);
      const row = rows[0];
      return row ? { file: String(row.File), offset: Number(row.Position) } : undefined;
    } catch (err) {
      // 1064: a syntax error, the statement is not known to this server.
      if (errno(err) !== 1064 || i === statements.length - 1) throw err;
    }
  }
  return undefined;
}

/** The binlog files the server keeps, with their sizes. */
async function binlogFiles(pool: Pool): Promise<Map<string, number>> {
  const [rows] = await pool.query<RowDataPacket[]>("SHOW BINARY LOGS");
  return new Map(rows.map((r) => [String(r.Log_name), Number(r.File_size)]));
}

/** Resolves after `ms`, or with `promise` if it settles first (never rejects). */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}

// --- Statements ------------------------------------------------------------

/** One identifier: backquoted, double-quoted (ANSI_QUOTES) or bare. */
const IDENT = String.raw`(?:\x60(?:[^\x60]|\x60\x60)+\x60|"(?:[^"]|"")+"|[\w$\u0080-\uffff]+)`;
/** A table name, with its database or without. */
const QNAME = String.raw`${IDENT}(?:\s*\.\s*${IDENT})?`;
const QNAME_PARTS = new RegExp(String.raw`(${IDENT})(?:\s*\.\s*(${IDENT}))?`, "y");

function unquote(ident: string): string {
  const q = ident[0];
  if ((q === "`" || q === '"') && ident.endsWith(q!)) return ident.slice(1, -1).replaceAll(q + q, q!);
  return ident;
}

/** A table a statement names: its database when the statement says it. */
interface TableRef {
  schema?: string;
  table: string;
}

function tableRef(text: string): TableRef | undefined {
  QNAME_PARTS.lastIndex = 0;
  const m = QNAME_PARTS.exec(text.trim());
  if (!m) return undefined;
  return m[2] === undefined ? { table: unquote(m[1]!) } : { schema: unquote(m[1]!), table: unquote(m[2]) };
}

function tableRefs(list: string): TableRef[] {
  return [...list.matchAll(new RegExp(QNAME, "g"))].map((m) => tableRef(m[0])).filter((r): r is TableRef => r !== undefined);
}

/** What a query event of the binlog means to the feed. */
type StatementMeaning =
  | { kind: "begin" }
  | { kind: "commit" }
  | { kind: "ignore" }
  | { kind: "tables"; tables: TableRef[]; reason: "truncate" | "ddl" }
  | { kind: "database"; database: string }
  | { kind: "everything"; reason: string };

const TRUNCATE = new RegExp(`^TRUNCATE (?:TABLE )?(${QNAME})`, "i");
const ALTER_TABLE = new RegExp(`^ALTER (?:ONLINE )?(?:IGNORE )?TABLE (?:IF EXISTS )?(${QNAME})(.*)$`, "i");
/** `RENAME [TO|AS] y` in an ALTER TABLE (not RENAME COLUMN, INDEX, KEY or CONSTRAINT). */
const RENAMED_TO = new RegExp(String.raw`\bRENAME (?:TO |AS )?(?!(?:COLUMN|INDEX|KEY|CONSTRAINT)\b)(${QNAME})`, "i");
const DROP_TABLE = new RegExp(String.raw`^DROP (?:TEMPORARY )?TABLES? (?:IF EXISTS )?(${QNAME}(?:\s*,\s*${QNAME})*)`, "i");
const RENAME_TABLE = new RegExp(String.raw`^RENAME TABLES? (?:IF EXISTS )?(${QNAME} TO ${QNAME}(?:\s*,\s*${QNAME} TO ${QNAME})*)`, "i");
const CREATE_TABLE = new RegExp(`^CREATE (?:OR REPLACE )?(?:TEMPORARY )?TABLE (?:IF NOT EXISTS )?(${QNAME})`, "i");
const DATABASE_DDL = new RegExp(`^(?:CREATE|DROP|ALTER) (?:DATABASE|SCHEMA) (?:IF (?:NOT )?EXISTS )?(${IDENT})`, "i");

/** Statements that change no row of any table. */
const NO_ROWS = new RegExp(
  "^(?:" +
    [
      String.raw`SAVEPOINT\b`,
      String.raw`RELEASE SAVEPOINT\b`,
      String.raw`ROLLBACK (?:WORK )?TO\b`,
      String.raw`XA (?:END|PREPARE|RECOVER)\b`,
      String.raw`(?:GRANT|REVOKE|FLUSH|ANALYZE|OPTIMIZE|CHECK|CHECKSUM|INSTALL|UNINSTALL)\b`,
      String.raw`(?:CREATE|DROP|ALTER|RENAME) (?:USER|ROLE)\b`,
      String.raw`SET (?:PASSWORD|DEFAULT ROLE)\b`,
      String.raw`(?:CREATE (?:OR REPLACE )?(?:DEFINER ?= ?\S+ )?|DROP |ALTER (?:DEFINER ?= ?\S+ )?)(?:AGGREGATE )?(?:FUNCTION|PROCEDURE|EVENT|TRIGGER|SERVER|PACKAGE)\b`,
    ].join("|") +
    ")",
  "i",
);

/**
 * What the SQL text of a binlog query event does: a transaction's start or
 * end, a change to named tables (`TRUNCATE`, `ALTER TABLE`, `DROP TABLE`,
 * `RENAME TABLE`, `CREATE TABLE`), to a whole database, nothing to any row,
 * or anything (every other statement).
 */
function statementMeaning(sql: string): StatementMeaning {
  // Comments out (executable /*! ... */ ones stay: what they hold may run), blanks folded.
  const q = sql
    .replace(/\/\*(?!!|M!)[\s\S]*?\*\//g, " ")
    .replace(/(?:--\s|#)[^\n]*/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/;$/, "")
    .trim();
  const upper = q.toUpperCase();
  if (upper === "BEGIN" || /^START TRANSACTION\b/.test(upper) || /^XA (?:START|BEGIN)\b/.test(upper)) return { kind: "begin" };
  if (/^(?:COMMIT|ROLLBACK)(?: WORK)?$/.test(upper) || /^XA ROLLBACK\b/.test(upper) || /^XA COMMIT\b.*\bONE PHASE$/.test(upper)) return { kind: "commit" };
  // An XA transaction's rows were logged at its XA PREPARE, before they were visible: its commit may change anything they touched.
  if (/^XA COMMIT\b/.test(upper)) return { kind: "everything", reason: "xa commit" };
  if (NO_ROWS.test(q)) return { kind: "ignore" };
  let m: RegExpMatchArray | null;
  if ((m = q.match(TRUNCATE))) {
    const ref = tableRef(m[1]!);
    if (ref) return { kind: "tables", tables: [ref], reason: "truncate" };
  }
  if ((m = q.match(ALTER_TABLE))) {
    const ref = tableRef(m[1]!);
    const renamed = m[2]!.match(RENAMED_TO);
    const to = renamed ? tableRef(renamed[1]!) : undefined;
    if (ref) return { kind: "tables", tables: to ? [ref, to] : [ref], reason: "ddl" };
  }
  if ((m = q.match(DROP_TABLE))) {
    const refs = tableRefs(m[1]!);
    if (refs.length > 0) return { kind: "tables", tables: refs, reason: "ddl" };
  }
  if ((m = q.match(RENAME_TABLE))) {
    const refs = tableRefs(m[1]!.replace(/\sTO\s/gi, ", "));
    if (refs.length > 0) return { kind: "tables", tables: refs, reason: "ddl" };
  }
  if ((m = q.match(CREATE_TABLE))) {
    const ref = tableRef(m[1]!);
    if (ref) return { kind: "tables", tables: [ref], reason: "ddl" };
  }
  if ((m = q.match(DATABASE_DDL))) return { kind: "database", database: unquote(m[1]!) };
  const words = upper.match(/^[A-Z]+(?: [A-Z]+)?/)?.[0] ?? "?";
  return { kind: "everything", reason: `statement ${words}` };
}

// --- A run -----------------------------------------------------------------

/** One start() to stop() of the source: its connections, its reader and its stream state. */
class Run {
  stopped = false;
  /** The database read (the URL's). */
  private database = "";
  private pool: Pool | undefined;
  private zongji: ZongJi | undefined;
  /** The server streams (its first event came). */
  private reading = false;
  /** start() has returned: failures go to the sink. */
  private started = false;
  private failed = false;
  /** A failure after the first event and before start() returned: start() rejects with it. */
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** start()'s outcome while it waits for the first event. */
  private settle: ((err?: Error) => void) | undefined;
  private foldCase = false;
  private oldCompleteDefault = true;
  /** Table names read (folded when names compare without case) → the caller's spelling. */
  private tableNames: Map<string, string> | undefined;
  /** The binlog file being read. */
  private file = "";
  /** Events of the transaction being read. */
  private pending: FeedEvent[] = [];
  private inTransaction = false;
  /** Pushes in order, each after the previous one resolved; the first once start() has returned. */
  private chain: Promise<void>;
  private openChain!: () => void;
  private pushing = 0;
  private lastPushAt = 0;
  private lastPacketAt = Date.now();
  private heartbeats = false;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: MysqlSourceOptions,
    private readonly sink: FeedSink,
  ) {
    this.chain = new Promise((resolve) => (this.openChain = resolve));
  }

  async start(from: string | undefined): Promise<{ fresh: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`The MySQL change feed did not start within ${START_TIMEOUT_MS / 1000} s (no answer from the server).`)),
        START_TIMEOUT_MS,
      );
    });
    const opening = this.open(from);
    // Once the timeout has won, open()'s own end is of no interest.
    opening.catch(() => undefined);
    try {
      return await Promise.race([opening, timeout]);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async open(from: string | undefined): Promise<{ fresh: boolean }> {
    const conn = connection(this.options.url);
    this.database = conn.database;
    const ZongJi = await loadZongji();
    const mysql = await loadMysql2();
    this.assertRunning();
    const pool = (this.pool = mysql.createPool(conn.pool));
    // A dropped idle connection leaves the pool; nothing to report.
    pool.on("connection", (c) => c.on("error", () => undefined));
    const settings = await readSettings(pool).catch((err: unknown) => {
      throw loginError(err, conn.user) ?? err;
    });
    this.assertRunning();
    if (!settings.logBin) {
      throw new FeedSetupError(
        "log_bin",
        `The binary log is off (log_bin = OFF) on the MySQL server of the change feed: start the server with --log-bin ` +
          `(log_bin in its configuration file) and binlog_format = ROW. ${SUFFIX}`,
      );
    }
    if (settings.format !== "ROW") {
      throw new FeedSetupError(
        "binlog_format",
        `binlog_format is ${settings.format} on the MySQL server of the change feed, which reads row events only: set binlog_format = ROW ` +
          `(SET GLOBAL binlog_format = 'ROW', and in the server's configuration file; connections opened before keep their format). ${SUFFIX}`,
      );
    }
    const serverId = this.replicaId(settings.serverId);
    this.foldCase = settings.foldCase;
    this.oldCompleteDefault = settings.rowImage === "FULL";
    if (this.options.tables) this.tableNames = new Map([...this.options.tables].map((t) => [this.fold(t), t]));
    if (!this.oldCompleteDefault) {
      this.sink.warn(
        `binlog_row_image is ${settings.rowImage} on the MySQL server of the change feed: updates and deletes carry only part of the old row ` +
          `(set binlog_row_image = FULL to have every column).`,
      );
    }

    let start: BinlogPosition | undefined;
    let fresh = true;
    try {
      const saved = from === undefined ? undefined : parsePosition(from);
      if (from !== undefined && !saved)
        this.sink.warn(`The MySQL change feed cannot continue from ${JSON.stringify(from)} (not a binlog position): it starts afresh.`);
      if (saved) {
        const size = (await binlogFiles(pool)).get(saved.file);
        if (size !== undefined && saved.offset <= size) {
          start = saved;
          fresh = false;
        } else {
          this.sink.warn(
            `The MySQL change feed cannot continue from ${from}: the server no longer has that binlog position (purged or reset). It starts afresh.`,
          );
        }
      }
      start ??= await binlogEnd(pool);
    } catch (err) {
      throw rightsError(err, conn.user) ?? err;
    }
    this.assertRunning();
    if (!start) {
      throw new FeedSetupError(
        "log_bin",
        `The MySQL server of the change feed reports no binary log: start it with --log-bin (log_bin) and binlog_format = ROW. ${SUFFIX}`,
      );
    }
    this.file = start.file;

    const zongji = (this.zongji = new ZongJi(pool.pool));
    const first = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    zongji.on("error", (err: Error) => this.onError(err));
    zongji.on("binlog", (event: AnyBinlogEvent) => {
      try {
        this.onEvent(event);
      } catch (err) {
        this.onError(err as Error);
      }
    });
    const schemas = new Set([this.database, ...(this.foldCase ? [this.database.toLowerCase()] : [])]);
    zongji.start({
      serverId,
      filename: start.file,
      position: start.offset,
      includeEvents: EVENTS,
      includeSchema: Object.fromEntries([...schemas].map((s) => [s, true])),
    });
    // Ahead of the reader's own statements on the stream's connection: heartbeats while the binlog is idle (nanoseconds).
    zongji.connection?.query(`SET @master_heartbeat_period = ${HEARTBEAT_MS * 1e6}, @source_heartbeat_period = ${HEARTBEAT_MS * 1e6}`, () => undefined);
    try {
      await first;
    } catch (err) {
      throw rightsError(err, conn.user) ?? err;
    }
    if (this.failure) throw this.failure;
    this.assertRunning();
    this.started = true;
    // After start()'s caller has its result.
    setImmediate(() => this.openChain());
    this.lastPacketAt = Date.now();
    // Any bytes count as life, rows of other databases too (the reader drops them before they are events).
    (zongji.connection as { stream?: NodeJS.EventEmitter } | null)?.stream?.on("data", () => {
      this.lastPacketAt = Date.now();
    });
    this.watchdog = setInterval(() => this.watch(), HEARTBEAT_MS / 3);
    this.watchdog.unref();
    return { fresh };
  }

  private assertRunning(): void {
    if (this.stopped) throw new Error("The MySQL change feed was stopped while it started.");
  }

  private replicaId(server: number): number {
    const id = this.options.serverId;
    if (id === undefined) {
      for (;;) {
        const drawn = 2 ** 20 + Math.floor(Math.random() * (2 ** 32 - 1 - 2 ** 20));
        if (drawn !== server) return drawn;
      }
    }
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 32 - 1 || id === server) {
      throw new FeedSetupError(
        "serverId",
        `The MySQL change feed's serverId ${id} is not a replica id this server takes: give an integer from 1 to 2^32 - 1 other than ` +
          `the server's own server_id (${server}), and unique among its replicas. ${SUFFIX}`,
      );
    }
    return id;
  }

  private fold(name: string): string {
    return this.foldCase ? name.toLowerCase() : name;
  }

  /** The caller's name of `table` of `schema` when the source reads it, else undefined. */
  private readTable(schema: string | undefined, table: string): string | undefined {
    if (schema === undefined || this.fold(schema) !== this.fold(this.database)) return undefined;
    if (!this.tableNames) return table;
    return this.tableNames.get(this.fold(table));
  }

  private onEvent(event: AnyBinlogEvent): void {
    if (this.stopped || this.failed) return;
    this.lastPacketAt = Date.now();
    if (is(event, "rotate")) {
      this.file = event.binlogName;
      // The first event of a stream is the server's rotate to where it starts: the reader reads.
      if (!this.reading) {
        this.reading = true;
        this.settle?.();
      }
      return;
    }
    if (is(event, "heartbeat")) {
      this.heartbeats = true;
      return;
    }
    if (is(event, "mariadbgtid")) {
      this.inTransaction = !event.standalone;
      return;
    }
    if (is(event, "xid") || is(event, "xaprepare")) this.commit(event.nextPosition, event.timestamp);
    else if (is(event, "writerows") || is(event, "updaterows") || is(event, "deleterows")) this.rows(event as RowsEventLike);
    else if (is(event, "query")) this.query(event);
  }

  private rows(event: RowsEventLike): void {
    const entry = event.tableMap[event.tableId];
    if (!entry) return;
    const table = this.readTable(entry.parentSchema, entry.tableName);
    if (table === undefined) return;
    const columns = entry.columns;
    const schema = this.database;
    const image = (row: Readonly<Record<string, unknown>>, bitmap: Buffer | undefined): { values: Record<string, unknown>; complete: boolean } => {
      if (!columns || !bitmap) return { values: { ...row }, complete: this.oldCompleteDefault };
      // A column left out of the row image (binlog_row_image = MINIMAL or NOBLOB) is decoded as null: it is not known.
      const values: Record<string, unknown> = {};
      let complete = true;
      columns.forEach((c, i) => {
        if ((bitmap[i >> 3]! & (1 << (i & 7))) !== 0) values[c.name] = row[c.name];
        else complete = false;
      });
      return { values, complete };
    };
    if (is(event, "updaterows")) {
      for (const r of event.rows) {
        const before = image(r.before, event.columns_present_bitmap);
        const after = image(r.after, event.columns_present_bitmap2);
        this.pending.push({ kind: "update", table, schema, old: before.values, oldComplete: before.complete, new: after.values } satisfies RowEvent);
      }
    } else if (is(event, "deleterows")) {
      for (const r of event.rows) {
        const before = image(r, event.columns_present_bitmap);
        this.pending.push({ kind: "delete", table, schema, old: before.values, oldComplete: before.complete } satisfies RowEvent);
      }
    } else {
      for (const r of event.rows) {
        this.pending.push({ kind: "insert", table, schema, oldComplete: false, new: image(r, event.columns_present_bitmap).values } satisfies RowEvent);
      }
    }
  }

  private query(event: BinlogEventByName<"query">): void {
    const meaning = statementMeaning(event.query);
    switch (meaning.kind) {
      case "begin":
        this.inTransaction = true;
        return;
      case "commit":
        this.commit(event.nextPosition, event.timestamp);
        return;
      case "ignore":
        break;
      case "tables": {
        const tables = meaning.tables
          .map((t) => ({ schema: t.schema ?? event.schema, table: t.table }))
          .map((t) => this.readTable(t.schema, t.table))
          .filter((t): t is string => t !== undefined);
        if (tables.length > 0)
          this.pending.push({ kind: "tables", tables: [...new Set(tables)].map((table) => ({ table, schema: this.database })), reason: meaning.reason });
        break;
      }
      case "database":
        if (this.fold(meaning.database) === this.fold(this.database)) this.pending.push({ kind: "everything", reason: "database ddl" });
        break;
      case "everything":
        if (this.concerns(event.schema, event.query)) this.pending.push({ kind: "everything", reason: meaning.reason });
        break;
    }
    // A statement inside a transaction (statement-based logging) waits for its commit; any other one commits itself.
    if (!this.inTransaction) this.commit(event.nextPosition, event.timestamp);
  }

  /** Whether a statement the source cannot attribute may touch the database: run in it, or naming it. */
  private concerns(schema: string, sql: string): boolean {
    if (this.fold(schema) === this.fold(this.database)) return true;
    const name = this.database.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`(?<![\\w$])${name}(?![\\w$])`, this.foldCase ? "i" : "").test(sql);
  }

  /**
   * The end of a transaction at `offset`, committed at `timestamp` (ms since
   * the epoch; the binlog keeps whole seconds): pushes its events (or, now
   * and then, only the position).
   */
  private commit(offset: number, timestamp: number): void {
    this.inTransaction = false;
    // MariaDB gives 0 as the end of events inside a transaction; a commit always has its own.
    if (offset <= 0) return;
    const events = this.pending;
    this.pending = [];
    if (events.length === 0 && Date.now() - this.lastPushAt < IDLE_POSITION_MS) return;
    this.push(events, `${this.file}:${offset}`, timestamp > 0 ? timestamp : undefined);
  }

  private push(events: FeedEvent[], position: string, committedAt: number | undefined): void {
    this.lastPushAt = Date.now();
    const connection = this.zongji?.connection;
    // Nothing more is read until the sink takes these (the reader's connection queues what arrives meanwhile).
    connection?.pause();
    this.pushing++;
    this.chain = this.chain
      .then(() => (this.stopped || this.failed ? undefined : this.sink.push(events, position, committedAt)))
      .then(
        () => {
          this.pushing--;
          this.lastPacketAt = Date.now();
          if (!this.stopped && !this.failed && connection && this.zongji?.connection === connection) connection.resume();
        },
        (err: unknown) => {
          this.pushing--;
          this.onError(err instanceof Error ? err : new Error(String(err)));
        },
      );
  }

  private watch(): void {
    if (this.stopped || this.failed || !this.heartbeats || this.pushing > 0) return;
    if (Date.now() - this.lastPacketAt > SILENCE_MS) {
      this.onError(new Error(`The MySQL change feed heard nothing from the server for ${SILENCE_MS / 1000} s (no event, no heartbeat).`));
    }
  }

  private onError(err: Error): void {
    if (this.stopped || this.failed) return;
    if (!this.reading) {
      this.settle?.(err);
      return;
    }
    if (!this.started) {
      this.failure ??= err;
      return;
    }
    this.failed = true;
    void this.close();
    this.sink.fail(err);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.settle?.(new Error("The MySQL change feed was stopped while it started."));
    await this.close();
  }

  /** Stops the reader and closes the pool, within {@link STOP_TIMEOUT_MS}. Never rejects. */
  private close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.watchdog);
      const zongji = this.zongji;
      const pool = this.pool;
      if (zongji) {
        const stopped = new Promise<void>((resolve) => zongji.once("stopped", () => resolve()));
        // Late errors of connections being closed are noise now.
        zongji.on("error", () => undefined);
        try {
          zongji.stop();
          await within(stopped, STOP_TIMEOUT_MS);
        } catch {
          // Closing anyway.
        }
      }
      if (pool) await within(pool.end(), STOP_TIMEOUT_MS);
    })();
    return this.closing;
  }
}

/** Narrows a binlog event by its name. */
function is<N extends BinlogEventName>(event: AnyBinlogEvent, name: N): event is BinlogEventByName<N> {
  return event.getEventName() === name;
}
