/**
 * Which tables a raw SQL write (`$executeRaw`, `$executeRawUnsafe`) changes,
 * in the dialect of each Prisma provider: PostgreSQL, MySQL / MariaDB and
 * SQLite.
 *
 * A small, linear-time tokenizer (`sql/lexer.ts`, one for the three
 * dialects) and a recogniser per dialect (`sql/postgres.ts`, `sql/mysql.ts`,
 * `sql/sqlite.ts`). They understand the dialect's `INSERT`, `UPDATE` and
 * `DELETE` forms (also inside `WITH` clauses), its upserts and replaces, and
 * Postgres' `TRUNCATE` and `MERGE`, MySQL's `TRUNCATE` and `LOAD DATA`; pure
 * reads; several statements separated by `;`; string literals, comments and
 * quoted identifiers. Anything else (procedural blocks, `CALL`, DDL, `SET`,
 * `SELECT ... INTO`, a call to a function that is not a known read-only
 * built-in, a syntax it does not follow) makes {@link tablesWritten} return
 * `undefined`, and the caller must invalidate the whole namespace.
 *
 * What it cannot see: triggers and rules that write other tables, and
 * foreign-key actions (`ON DELETE CASCADE` and friends; see `schema.ts` for
 * those). Session state set by an earlier call is not tracked either: schema
 * qualifiers are reported, not resolved (`SET search_path`, MySQL's `USE`,
 * SQLite's attached databases), and where MySQL's `sql_mode` changes how
 * text is read (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`), every reading is
 * recognised and the union of their tables reported.
 * @module
 */
import { lex, matchParens, T, type Tok } from "./sql/lexer.js";
import { MysqlRecogniser } from "./sql/mysql.js";
import { PostgresRecogniser } from "./sql/postgres.js";
import { type Recogniser, Sink, UNKNOWN } from "./sql/recogniser.js";
import { SqliteRecogniser } from "./sql/sqlite.js";
import type { SqlDialect, TableRef, WrittenTables } from "./sql/types.js";

export type { ColumnRef, SqlDialect, TableRef, WriteOp, WrittenTable, WrittenTables } from "./sql/types.js";

const RECOGNISERS: Record<SqlDialect, new (toks: readonly Tok[], match: Int32Array, sink: Sink) => Recogniser> = {
  postgresql: PostgresRecogniser,
  mysql: MysqlRecogniser,
  sqlite: SqliteRecogniser,
};

/** Recognise every `;`-separated statement of `toks` into `sink`; false when one is not understood. */
function recognise(toks: readonly Tok[], dialect: SqlDialect, sink: Sink): boolean {
  const match = matchParens(toks);
  if (match === undefined) return false;
  const r = new RECOGNISERS[dialect](toks, match, sink);
  try {
    let start = 0;
    for (let i = 0; i <= toks.length; i++) {
      if (i === toks.length || (toks[i]!.t === T.Op && toks[i]!.v === ";")) {
        if (i > start) r.statement(start, i);
        start = i + 1;
      }
    }
  } catch (err) {
    if (err === UNKNOWN) return false;
    throw err;
  }
  return true;
}

/**
 * MySQL's other readings of the same text, as `[single-quote backslash
 * escapes, double-quote backslash escapes, conditional comments run]`: with
 * and without `NO_BACKSLASH_ESCAPES` and `ANSI_QUOTES` when a string holds a
 * backslash, with and without the executable comments whose running depends
 * on the server version or kind.
 */
function mysqlReadings(backslash: boolean, conditional: boolean): [boolean, boolean, boolean][] {
  const out: [boolean, boolean, boolean][] = [];
  for (const [single, double] of backslash
    ? [
        [true, true],
        [true, false],
        [false, false],
      ]
    : [[true, true]])
    for (const run of conditional ? [true, false] : [true]) if (!(single && double && run)) out.push([single!, double!, run]);
  return out;
}

/**
 * The tables a raw SQL write changes.
 *
 * @param sql The SQL text (with `$1`-style placeholders for PostgreSQL, `?` for MySQL and SQLite, as Prisma passes it).
 * @param dialect How to read it: Prisma's provider name (MariaDB is `mysql`).
 * @returns The written tables (empty when there are only reads), with
 * `cascade: true` when a `TRUNCATE ... CASCADE` appears; or `undefined` when
 * the SQL is anything this recogniser does not understand, in which case the
 * caller must invalidate the whole namespace.
 */
export function tablesWritten(sql: string, dialect: SqlDialect = "postgresql"): WrittenTables | undefined {
  if (typeof sql !== "string" || RECOGNISERS[dialect] === undefined) return undefined;
  const sink = new Sink(dialect !== "postgresql");
  const first = lex(sql, { dialect });
  if (first === undefined || first.condition === "mixed" || !recognise(first.toks, dialect, sink)) return undefined;
  if (dialect === "mysql") {
    for (const [singleBackslash, doubleBackslash, conditional] of mysqlReadings(first.backslash, first.condition !== undefined)) {
      const other = lex(sql, { dialect, singleBackslash, doubleBackslash, conditional });
      // another reading that finds other executable comments is not followed
      if (other === undefined || other.condition !== first.condition || !recognise(other.toks, dialect, sink)) return undefined;
    }
  }
  return sink.cascade ? { tables: sink.tables, cascade: true } : { tables: sink.tables };
}

/**
 * Map table names to model names.
 *
 * A model's table is its `dbName` (`@@map`) when set, else the model name. A
 * quoted name (`quoted: true`) must match exactly; any other is matched
 * case-insensitively (Postgres folds unquoted names to lower case). Implicit
 * many-to-many join tables (`_PostToTag`) map to both of their models. The
 * schema qualifier is ignored (`other_schema."Post"` maps to `Post`), which
 * can only widen the invalidation.
 *
 * @param tables Table references, e.g. `tablesWritten(sql).tables`.
 * @param models Models by name, e.g. the runtime data model's `models`.
 * @param joinTables Implicit many-to-many join tables (`parseRelations(schema).joinTables`).
 * @returns Model names in order of first appearance, or `undefined` when some
 * table is not a model's table nor a join table (the caller then invalidates
 * the whole namespace).
 */
export function modelsForTables(
  tables: readonly TableRef[],
  models: Readonly<Record<string, { dbName?: string | null }>>,
  joinTables: readonly { table: string; models: readonly string[] }[] = [],
): string[] | undefined {
  const out = new Set<string>();
  const candidates = [...Object.entries(models).map(([name, m]) => ({ table: m.dbName ?? name, models: [name] as readonly string[] })), ...joinTables];
  for (const t of tables) {
    const lower = t.name.toLowerCase();
    let found = false;
    for (const c of candidates) {
      if (t.quoted === true ? c.table === t.name : c.table.toLowerCase() === lower) {
        found = true;
        for (const m of c.models) out.add(m);
      }
    }
    if (!found) return undefined;
  }
  return [...out];
}
