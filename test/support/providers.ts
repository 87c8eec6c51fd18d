/**
 * The database providers the tests run on, PostgreSQL, MySQL (MariaDB) and
 * SQLite, the kinds of test database (those three, and MariaDB with
 * relationMode = "prisma"), and the driver adapter of each. A connection
 * URL says which kind it is, so that child processes need only the URL.
 * Free of vitest.
 * @module
 */
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaMariaDb } from "@prisma/adapter-mariadb";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";

/** The Prisma providers the tests run on. */
export const PROVIDERS = ["postgresql", "mysql", "sqlite"] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * The test databases: one per provider, and MySQL/MariaDB again with
 * Prisma's `relationMode = "prisma"` (`mysql-rm`: the schema of
 * prisma/mysql-rm, no foreign keys, referential actions emulated by Prisma
 * Client, as PlanetScale users run it).
 */
export const DATABASE_KINDS = ["postgresql", "mysql", "mysql-rm", "sqlite"] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

const ALIASES: Record<string, DatabaseKind> = {
  postgresql: "postgresql",
  postgres: "postgresql",
  pg: "postgresql",
  mysql: "mysql",
  mariadb: "mysql",
  "mysql-rm": "mysql-rm",
  "mariadb-rm": "mysql-rm",
  sqlite: "sqlite",
};

/**
 * The database kind named by `value` (the `PTC_DB` environment variable by
 * default): `postgresql` (the default), `mysql` (MariaDB), `mysql-rm`
 * (MariaDB, relationMode = "prisma") or `sqlite`.
 * @throws for any other name.
 */
export function databaseKindNamed(value: string | undefined = process.env.PTC_DB): DatabaseKind {
  if (!value) return "postgresql";
  const kind = ALIASES[value.toLowerCase()];
  if (!kind) throw new Error(`PTC_DB=${value}: expected postgresql, mysql (MariaDB), mysql-rm (MariaDB with relationMode = "prisma") or sqlite`);
  return kind;
}

/** The Prisma provider of a database kind (`mysql` for `mysql-rm`). */
export function providerOfKind(kind: DatabaseKind): Provider {
  return kind === "mysql-rm" ? "mysql" : kind;
}

/**
 * Marks a URL as a database of relationMode = "prisma" (its search
 * parameter), so that child processes that get only the URL build the
 * client generated for that schema. Taken off before the URL reaches a
 * driver ({@link driverUrl}).
 */
const RELATION_MODE_PARAM = "ptcRelationMode";

/** `url` marked as a database of `kind` (only `mysql-rm` adds anything). */
export function urlOfKind(url: string, kind: DatabaseKind): string {
  if (kind !== "mysql-rm") return url;
  const u = new URL(url);
  u.searchParams.set(RELATION_MODE_PARAM, "prisma");
  return u.toString();
}

/** The provider of a connection URL: `postgres(ql)://`, `mysql://` or `mariadb://`, `file:`. */
export function providerOf(url: string): Provider {
  const scheme = url.slice(0, Math.max(0, url.indexOf(":"))).toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") return "postgresql";
  if (scheme === "mysql" || scheme === "mariadb") return "mysql";
  if (scheme === "file") return "sqlite";
  throw new Error(`no test provider for the URL ${url}`);
}

/** The database kind of a connection URL: its provider, or `mysql-rm` for a MySQL URL marked by {@link urlOfKind}. */
export function kindOf(url: string): DatabaseKind {
  const provider = providerOf(url);
  return provider === "mysql" && new URL(url).searchParams.get(RELATION_MODE_PARAM) === "prisma" ? "mysql-rm" : provider;
}

/** `url` without the marker of {@link urlOfKind}: what a driver connects to. */
export function driverUrl(url: string): string {
  if (providerOf(url) !== "mysql" || !url.includes(RELATION_MODE_PARAM)) return url;
  const u = new URL(url);
  u.searchParams.delete(RELATION_MODE_PARAM);
  return u.toString();
}

/** A new driver adapter factory for `url`, of the provider the URL names. */
export function driverAdapter(url: string): SqlDriverAdapterFactory {
  switch (providerOf(url)) {
    case "postgresql":
      return new PrismaPg({ connectionString: url });
    case "mysql":
      return new PrismaMariaDb(driverUrl(url));
    case "sqlite":
      return new PrismaBetterSqlite3({ url });
  }
}
