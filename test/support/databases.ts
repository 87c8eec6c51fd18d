/**
 * The test databases of each provider: PostgreSQL, MySQL (MariaDB) and
 * SQLite. The global setup makes one template per run (the provider's
 * committed migrations applied), and each test file copies it into a
 * database of its own. Free of vitest, so plain scripts can use it.
 * @module
 */
import path from "node:path";
import {
  copyMariadbDatabase,
  createMigratedMariadb,
  dropMariadbDatabase,
  dropRunMariadbDatabases,
  MARIADB_HINT,
  MYSQL_MIGRATIONS_DIR,
  MYSQL_RM_MIGRATIONS_DIR,
  startMariadb,
} from "./mariadb";
import {
  createMigratedDatabase,
  databaseUrl,
  dropRunDatabases,
  INSTALL_HINT,
  isShared,
  makeTempDir,
  type ServerScope,
  startPostgres,
  withClient,
} from "./servers";
import { type DatabaseKind, type Provider, urlOfKind } from "./providers";
import { copySqliteFile, createMigratedSqliteFile, removeSqliteFile } from "./sqlite";

/**
 * Where a run's test databases come from: a server and its template
 * database, or a directory and its template file. `kind` is `provider`, or
 * `mysql-rm` for MySQL with relationMode = "prisma".
 */
export type DatabaseSource =
  | { provider: "postgresql"; kind: "postgresql" /** URL of an admin connection (CREATE/DROP DATABASE). */; adminUrl: string; template: string }
  | { provider: "mysql"; kind: "mysql" | "mysql-rm" /** URL of an admin connection (CREATE/DROP DATABASE). */; adminUrl: string; template: string }
  | { provider: "sqlite"; kind: "sqlite" /** Directory of the run's database files. */; dir: string; template: string };

/** A {@link DatabaseSource} ready for a run. */
export interface PreparedDatabases {
  source: DatabaseSource;
  /** For logs, e.g. `postgres: local /usr/lib/postgresql/15/bin/postgres on 127.0.0.1:40001`. */
  description: string;
}

/** What to install, per provider, when no server could be found or started. */
export const DATABASE_HINTS: Record<Provider, string> = { postgresql: INSTALL_HINT, mysql: MARIADB_HINT, sqlite: "" };

/** The committed migrations each MySQL kind's template is made from. */
const MYSQL_MIGRATIONS: Record<"mysql" | "mysql-rm", string> = { mysql: MYSQL_MIGRATIONS_DIR, "mysql-rm": MYSQL_RM_MIGRATIONS_DIR };

/**
 * Starts (or finds) the database server of `kind`'s provider, owned by
 * `scope`, and makes the run's template: the kind's committed migrations
 * applied to a template database (Postgres, MariaDB) or file (SQLite). On a
 * server from the environment (`DATABASE_URL`, `MYSQL_URL`) the template is
 * `ptc_<runId>_template` and every `ptc_<runId>_*` database is dropped when
 * `scope` closes.
 */
export async function prepareDatabases(scope: ServerScope, kind: DatabaseKind, runId: string): Promise<PreparedDatabases> {
  if (kind === "sqlite") {
    const dir = await makeTempDir(scope, "sqlite");
    const template = path.join(dir, "template.db");
    await createMigratedSqliteFile(template);
    return { source: { provider: kind, kind, dir, template }, description: `sqlite: files in ${dir}` };
  }
  const server = kind === "postgresql" ? await startPostgres(scope) : await startMariadb(scope);
  const shared = isShared(server);
  const template = shared ? `ptc_${runId}_template` : "ptc_template";
  if (kind === "postgresql") {
    if (shared) scope.deferLast(() => dropRunDatabases(server.url, runId));
    await createMigratedDatabase(server.url, template);
    return { source: { provider: kind, kind, adminUrl: server.url, template }, description: `postgres: ${server.source}` };
  }
  if (shared) scope.deferLast(() => dropRunMariadbDatabases(server.url, runId));
  await createMigratedMariadb(server.url, template, MYSQL_MIGRATIONS[kind]);
  const mode = kind === "mysql-rm" ? ' (relationMode = "prisma": no foreign keys)' : "";
  return { source: { provider: "mysql", kind, adminUrl: server.url, template }, description: `mariadb${mode}: ${server.source}` };
}

/** A database of its own, copied from the run's template. */
export interface CopiedDatabase {
  url: string;
  /** Drops the database (or removes the file). */
  drop(): Promise<void>;
}

/** Copies a Postgres template, retrying while another copy briefly holds it ("source database is being accessed"). */
async function copyPostgres(adminUrl: string, template: string, name: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      } catch (err) {
        if ((err as { code?: string }).code !== "55006" || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20 + attempt * 10));
      }
    }
  });
}

/** Creates database `name` (a file `<name>.db` on SQLite) from the template of `source`. */
export async function copyTemplate(source: DatabaseSource, name: string): Promise<CopiedDatabase> {
  switch (source.provider) {
    case "postgresql": {
      const { adminUrl, template } = source;
      await copyPostgres(adminUrl, template, name);
      return {
        url: databaseUrl(adminUrl, name),
        drop: () => withClient(adminUrl, async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
      };
    }
    case "mysql": {
      const { adminUrl, template, kind } = source;
      return { url: urlOfKind(await copyMariadbDatabase(adminUrl, template, name), kind), drop: () => dropMariadbDatabase(adminUrl, name) };
    }
    case "sqlite": {
      const file = path.join(source.dir, `${name}.db`);
      return { url: await copySqliteFile(source.template, file), drop: () => removeSqliteFile(file) };
    }
  }
}
