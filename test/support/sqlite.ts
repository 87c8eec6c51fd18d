/**
 * SQLite test databases for the `sqlite` test project: no server, a file per
 * test database. The global setup applies the committed SQLite migrations
 * (`prisma/sqlite/migrations`) to a template file once; each test file gets
 * a copy of it. Free of vitest, so plain scripts can use it.
 * @module
 */
import { copyFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { readMigrations } from "./servers";

/** Directory of the committed SQLite migrations. */
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/sqlite/migrations", import.meta.url));

/** The `file:` URL the better-sqlite3 adapter takes for a database file. */
export const sqliteUrl = (file: string): string => `file:${file}`;

/**
 * Creates the database file `file` (replacing any) with every committed
 * SQLite migration applied, through the driver adapter the tests use.
 * @throws naming the migration that failed.
 */
export async function createMigratedSqliteFile(file: string): Promise<string> {
  await removeSqliteFile(file);
  const migrations = await readMigrations(SQLITE_MIGRATIONS_DIR);
  const adapter = await new PrismaBetterSqlite3({ url: sqliteUrl(file) }).connect();
  try {
    for (const m of migrations) {
      try {
        await adapter.executeScript(m.sql);
      } catch (err) {
        throw new Error(`SQLite migration ${m.name} failed: ${String(err)}`);
      }
    }
  } finally {
    await adapter.dispose();
  }
  return sqliteUrl(file);
}

/** Copies the (closed) template file to `file`; returns the copy's URL. */
export async function copySqliteFile(template: string, file: string): Promise<string> {
  await copyFile(template, file);
  return sqliteUrl(file);
}

/** Removes a database file and its journal, WAL and shared-memory files. */
export async function removeSqliteFile(file: string): Promise<void> {
  await Promise.all(["", "-journal", "-wal", "-shm"].map((suffix) => rm(`${file}${suffix}`, { force: true })));
}
