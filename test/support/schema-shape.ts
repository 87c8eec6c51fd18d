/**
 * The shape of a migrated database: tables, columns and their nullability,
 * primary keys, unique and plain indexes, foreign keys with their
 * referential actions. Read from a live database of any test provider, or
 * parsed from the Postgres migration SQL that Prisma wrote, so that the
 * hand-written MySQL and SQLite migrations can be checked against it.
 * Column types are not compared: the suites round-trip every scalar type.
 * Free of vitest.
 * @module
 */
import type { Provider } from "./providers";

/** A foreign key: its columns, the table and columns it references, and its actions (upper case, e.g. `SET NULL`). */
export interface ForeignKey {
  name: string | undefined;
  columns: string[];
  references: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

/** One table's shape. Index lists are sorted by name. */
export interface TableShape {
  /** Column name to whether it is nullable, in name order. */
  columns: Record<string, boolean>;
  primaryKey: string[];
  /** Unique indexes: name to columns. */
  unique: Record<string, string[]>;
  /** Plain indexes: name to columns (not MySQL's implicit foreign key indexes). */
  indexes: Record<string, string[]>;
  /** Sorted by their columns. */
  foreignKeys: ForeignKey[];
}

/** Table name to shape. */
export type SchemaShape = Record<string, TableShape>;

/** Runs one SQL text and resolves to its rows (e.g. `prisma.$queryRawUnsafe`). */
export type RawQuery = (sql: string) => Promise<Array<Record<string, unknown>>>;

const sortKeys = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

function table(shape: SchemaShape, name: string): TableShape {
  shape[name] ??= { columns: {}, primaryKey: [], unique: {}, indexes: {}, foreignKeys: [] };
  return shape[name];
}

function normalize(shape: SchemaShape): SchemaShape {
  const out: SchemaShape = {};
  for (const [name, t] of Object.entries(shape).sort(([a], [b]) => a.localeCompare(b))) {
    out[name] = {
      columns: sortKeys(t.columns),
      primaryKey: t.primaryKey,
      unique: sortKeys(t.unique),
      indexes: sortKeys(t.indexes),
      foreignKeys: [...t.foreignKeys].sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    };
  }
  return out;
}

const unquote = (list: string) => list.split(",").map((c) => c.trim().replace(/^["`]|["`]$/g, ""));

/**
 * The shape Prisma's Postgres migration SQL (`CREATE TABLE`, `CREATE [UNIQUE]
 * INDEX`, `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY`) describes.
 * @throws on a statement it does not know.
 */
export function parsePostgresMigrations(sqlTexts: string[]): SchemaShape {
  const shape: SchemaShape = {};
  const statements = sqlTexts
    .join("\n")
    .replace(/--[^\n]*/g, "")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statements) {
    let m: RegExpExecArray | null;
    if (/^CREATE TYPE /.test(s)) continue;
    if ((m = /^CREATE TABLE "(\w+)" \(([\s\S]*)\)$/.exec(s))) {
      const t = table(shape, m[1]!);
      for (const line of m[2]!.split(/,\n/).map((l) => l.trim())) {
        const pk = /^CONSTRAINT "\w+" PRIMARY KEY \(([^)]+)\)$/.exec(line);
        if (pk) t.primaryKey = unquote(pk[1]!);
        else {
          const col = /^"(\w+)" (.*)$/.exec(line);
          if (!col) throw new Error(`unknown line in CREATE TABLE "${m[1]}": ${line}`);
          t.columns[col[1]!] = !/\bNOT NULL\b/.test(col[2]!);
        }
      }
    } else if ((m = /^CREATE (UNIQUE )?INDEX "(\w+)" ON "(\w+)"\(([^)]+)\)$/.exec(s))) {
      table(shape, m[3]!)[m[1] ? "unique" : "indexes"][m[2]!] = unquote(m[4]!);
    } else if (
      (m = /^ALTER TABLE "(\w+)" ADD CONSTRAINT "(\w+)" FOREIGN KEY \(([^)]+)\) REFERENCES "(\w+)"\(([^)]+)\) ON DELETE ([A-Z ]+?) ON UPDATE ([A-Z ]+)$/.exec(
        s,
      ))
    ) {
      table(shape, m[1]!).foreignKeys.push({
        name: m[2],
        columns: unquote(m[3]!),
        references: m[4]!,
        referencedColumns: unquote(m[5]!),
        onDelete: m[6]!,
        onUpdate: m[7]!,
      });
    } else throw new Error(`unknown statement in the Postgres migrations: ${s.slice(0, 80)}`);
  }
  return normalize(shape);
}

const str = (v: unknown): string => String(v);
const bool = (v: unknown): boolean => v === true || v === 1 || v === 1n || v === "1" || v === "YES";

/**
 * The queries that read a server's catalog, each returning rows of one
 * shape: columns `{ t, c, n }` (table, column, nullable), foreign keys
 * `{ t, name, ref, del, upd, cols, refcols }` (actions spelled out, columns
 * comma-separated), indexes `{ t, i, u, p, cols }` (unique, primary).
 */
interface CatalogQueries {
  columns: string;
  foreignKeys: string;
  indexes: string;
}

const CATALOGS: Record<"postgresql" | "mysql", CatalogQueries> = {
  postgresql: {
    columns:
      "SELECT table_name AS t, column_name AS c, is_nullable AS n FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, ordinal_position",
    foreignKeys:
      "SELECT t.relname::text AS t, c.conname::text AS name, r.relname::text AS ref, " +
      "CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END AS del, " +
      "CASE c.confupdtype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END AS upd, " +
      "(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS cols, " +
      "(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS refcols " +
      "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace s ON s.oid = t.relnamespace " +
      "WHERE c.contype = 'f' AND s.nspname = current_schema()",
    indexes:
      "SELECT t.relname::text AS t, i.relname::text AS i, ix.indisunique AS u, ix.indisprimary AS p, " +
      "(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols " +
      "FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_namespace s ON s.oid = t.relnamespace " +
      "WHERE s.nspname = current_schema()",
  },
  mysql: {
    columns:
      "SELECT TABLE_NAME AS t, COLUMN_NAME AS c, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, ORDINAL_POSITION",
    foreignKeys:
      "SELECT k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS name, k.REFERENCED_TABLE_NAME AS ref, r.DELETE_RULE AS del, r.UPDATE_RULE AS upd, " +
      "GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS cols, GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS refcols " +
      "FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r " +
      "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME " +
      "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
    indexes:
      "SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE = 0 AS u, INDEX_NAME = 'PRIMARY' AS p, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols " +
      "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() GROUP BY 1, 2, 3, 4",
  },
};

/** Postgres and MySQL/MariaDB: the current schema's (database's) tables, from the catalog. */
async function catalogShape(query: RawQuery, sql: CatalogQueries): Promise<SchemaShape> {
  const shape: SchemaShape = {};
  for (const r of await query(sql.columns)) table(shape, str(r.t)).columns[str(r.c)] = bool(r.n);
  for (const r of await query(sql.foreignKeys)) {
    table(shape, str(r.t)).foreignKeys.push({
      name: str(r.name),
      columns: str(r.cols).split(","),
      references: str(r.ref),
      referencedColumns: str(r.refcols).split(","),
      onDelete: str(r.del),
      onUpdate: str(r.upd),
    });
  }
  for (const r of await query(sql.indexes)) {
    const t = table(shape, str(r.t));
    const cols = str(r.cols).split(",");
    if (bool(r.p)) t.primaryKey = cols;
    else if (bool(r.u)) t.unique[str(r.i)] = cols;
    // InnoDB adds an index, named after the constraint, for a foreign key that no index starts with.
    else if (!t.foreignKeys.some((fk) => fk.name === str(r.i))) t.indexes[str(r.i)] = cols;
  }
  return shape;
}

/** SQLite: the database's tables, from its pragmas (foreign keys have no names there). */
async function sqliteShape(query: RawQuery): Promise<SchemaShape> {
  const shape: SchemaShape = {};
  const tables = await query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  for (const { name } of tables) {
    const t = table(shape, str(name));
    const info = await query(`PRAGMA table_info("${str(name)}")`);
    for (const c of info) t.columns[str(c.name)] = !bool(c.notnull) && !(Number(c.pk) > 0);
    t.primaryKey = info
      .filter((c) => Number(c.pk) > 0)
      .sort((a, b) => Number(a.pk) - Number(b.pk))
      .map((c) => str(c.name));
    for (const ix of await query(`PRAGMA index_list("${str(name)}")`)) {
      if (str(ix.origin) === "pk") continue;
      const cols = (await query(`PRAGMA index_info("${str(ix.name)}")`)).sort((a, b) => Number(a.seqno) - Number(b.seqno)).map((c) => str(c.name));
      t[bool(ix.unique) ? "unique" : "indexes"][str(ix.name)] = cols;
    }
    const fks = new Map<number, ForeignKey>();
    for (const fk of await query(`PRAGMA foreign_key_list("${str(name)}")`)) {
      const id = Number(fk.id);
      const entry = fks.get(id) ?? {
        name: undefined,
        columns: [],
        references: str(fk.table),
        referencedColumns: [],
        onDelete: str(fk.on_delete),
        onUpdate: str(fk.on_update),
      };
      entry.columns.push(str(fk.from));
      entry.referencedColumns.push(str(fk.to));
      fks.set(id, entry);
    }
    t.foreignKeys.push(...fks.values());
  }
  return shape;
}

/** The shape of the database a client of `provider` is connected to. */
export async function readShape(provider: Provider, query: RawQuery): Promise<SchemaShape> {
  return normalize(await (provider === "sqlite" ? sqliteShape(query) : catalogShape(query, CATALOGS[provider])));
}
