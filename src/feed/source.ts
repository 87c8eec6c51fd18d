/**
 * What a change feed source gives the consumer (feed/consumer.ts): the
 * changes read from the database's own log (Postgres logical replication,
 * the MySQL/MariaDB row binlog, SQLite's `data_version`), by table and
 * column names, in log order, each run of them with the position the log
 * stands at once they are applied. A source knows its database's protocol;
 * it knows nothing of Prisma, Redis or dependencies.
 * @module
 */

/** One row inserted, updated or deleted, as the log tells it. */
export interface RowEvent {
  readonly kind: "insert" | "update" | "delete";
  /** Table name, without its schema. */
  readonly table: string;
  /** The Postgres schema, or the MySQL database, of the table (undefined when the log does not say). */
  readonly schema?: string;
  /**
   * The row before (update, delete), by column name: every column when
   * {@link oldComplete}, else the columns the log carries (the key, or
   * nothing: undefined).
   */
  readonly old?: Readonly<Record<string, unknown>>;
  /** Whether {@link old} holds every column (Postgres `REPLICA IDENTITY FULL`, a MySQL full row image). */
  readonly oldComplete: boolean;
  /** The row after (insert, update), by column name; a column missing from it is not known. */
  readonly new?: Readonly<Record<string, unknown>>;
}

/** Every row of these tables may have changed (`TRUNCATE`, a schema change). */
export interface TablesEvent {
  readonly kind: "tables";
  readonly tables: readonly { readonly table: string; readonly schema?: string }[];
  /** What happened, for the log: `truncate`, `ddl`. */
  readonly reason: string;
}

/** Anything in the database may have changed (SQLite's `data_version` moved; a statement the source cannot attribute). */
export interface EverythingEvent {
  readonly kind: "everything";
  readonly reason: string;
}

/** One change the log carries. */
export type FeedEvent = RowEvent | TablesEvent | EverythingEvent;

/** Where a source sends what it reads. */
export interface FeedSink {
  /**
   * Events in log order, and the position the log stands at once they are
   * applied (the token {@link FeedSource.acknowledge} takes), and when the
   * last of them was committed (ms since the epoch, when the log says; for
   * the lag in `stats()`). Resolves when the consumer can take more: a
   * source waits for it before it reads on (backpressure).
   */
  push(events: readonly FeedEvent[], position: string, committedAt?: number): Promise<void>;
  /** The stream failed after it started: the consumer stops the source and starts a new one from the last acknowledged position. */
  fail(err: Error): void;
  /** Something the operator should know that does not stop the feed (tables without a full old row image, say). */
  warn(message: string): void;
}

/** A database's change log, read from a durable position. */
export interface FeedSource {
  /** The database kind, for stats and messages. */
  readonly kind: "postgresql" | "mysql" | "sqlite";
  /**
   * Whether the database keeps the acknowledged position itself (a Postgres
   * slot). When false, the consumer stores each acknowledged position (in
   * Redis, fenced by its lease) and gives it back to {@link start}.
   */
  readonly keepsPosition: boolean;
  /**
   * Checks the database's settings and rights, creates what is missing and
   * allowed (a slot, a publication), and starts reading: from the last
   * acknowledged position (`from` when the consumer keeps it; undefined the
   * first time). Resolves once it reads, to whether it started afresh (no
   * position to continue from: changes before now were not read, so the
   * consumer makes the whole namespace stale once).
   * @throws FeedSetupError naming the setting to change.
   */
  start(sink: FeedSink, from: string | undefined): Promise<{ fresh: boolean }>;
  /** Tells the database that everything up to `position` is applied (a no-op when it does not keep positions). */
  acknowledge(position: string): Promise<void>;
  /** Stops reading and closes every connection it opened. Never rejects. */
  stop(): Promise<void>;
}
