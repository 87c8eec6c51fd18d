/**
 * What the raw-SQL parser reports: the tables a statement writes, how, and
 * (for `UPDATE`) which columns.
 * @module
 */

/**
 * The SQL dialect to read, by Prisma's provider name (MariaDB is `mysql`).
 *
 * How table and column names compare differs: PostgreSQL folds unquoted
 * names to lower case and matches quoted ones exactly; MySQL and SQLite
 * names are reported as written with `quoted: false`, to be matched without
 * regard to case (see {@link TableRef.quoted}).
 */
export type SqlDialect = "postgresql" | "mysql" | "sqlite";

/** A table reference as written in SQL. */
export interface TableRef {
  /**
   * Schema qualifier (`public` in `public."Post"`), if any. For Postgres'
   * `db.schema.table`, the middle part; for MySQL the database (`db` in
   * `` `db`.`t` ``); for SQLite the attached database (`main`, `temp`, ...).
   */
  schema?: string;
  /**
   * Table name. PostgreSQL: exact for a quoted identifier, folded to lower
   * case for an unquoted one (as Postgres does). MySQL and SQLite: as
   * written, quoted or not.
   */
  name: string;
  /**
   * Whether the name must match exactly (a PostgreSQL quoted identifier).
   * Absent or false: matched without regard to case. MySQL and SQLite names
   * are always reported with `false`: SQLite compares names without regard
   * to (ASCII) case, quoted or not, and MySQL does on Windows and macOS
   * (`lower_case_table_names`), so a case-blind match is the one that is
   * never too narrow.
   */
  quoted?: boolean;
}

/** What a statement does to a written table's rows. */
export type WriteOp = "insert" | "upsert" | "update" | "delete" | "truncate" | "merge";

/** A column reference as written in SQL (same case rules as {@link TableRef}). */
export interface ColumnRef {
  /** Column name. PostgreSQL: exact when quoted, lower-cased when not. MySQL and SQLite: as written. */
  name: string;
  /** Whether it was a PostgreSQL quoted identifier (always false for MySQL and SQLite, whose column names ignore case). */
  quoted: boolean;
}

/** A table written by a statement. */
export interface WrittenTable extends TableRef {
  /** Whether the name must match exactly (see {@link TableRef.quoted}). */
  quoted: boolean;
  /**
   * The kind of write. `upsert` is `INSERT ... ON CONFLICT ... DO UPDATE`
   * (MySQL: `ON DUPLICATE KEY UPDATE`); `merge` may insert, update and
   * delete. A statement that deletes rows to make room for new ones (MySQL's
   * `REPLACE`, SQLite's `OR REPLACE`) is reported twice: as `delete` and as
   * `insert` (or `update`, `upsert`).
   */
  op: WriteOp;
  /**
   * For `update` only: the columns assigned by `SET` (database column names,
   * not field names). Absent when unknown, or when the op is not `update`.
   */
  columns?: ColumnRef[];
}

/** The result of `tablesWritten`. */
export interface WrittenTables {
  /** Written tables, in order of appearance, deduplicated per table and op. */
  tables: WrittenTable[];
  /**
   * Set when a `TRUNCATE ... CASCADE` appears: every table with a foreign key
   * to a truncated one is emptied too, and the caller must widen (e.g. with
   * `affectedByDelete` from `schema.ts`, or the whole namespace).
   */
  cascade?: true;
}
