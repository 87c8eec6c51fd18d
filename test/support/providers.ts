/**
 * The database providers the tests run on, PostgreSQL, MySQL (MariaDB) and
 * SQLite, and the driver adapter of each. A connection URL says which
 * provider it is, so that child processes need only the URL. Free of vitest.
 * @module
 */
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaMariaDb } from "@prisma/adapter-mariadb";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";

/** The Prisma providers the tests run on. */
export const PROVIDERS = ["postgresql", "mysql", "sqlite"] as const;
export type Provider = (typeof PROVIDERS)[number];

const ALIASES: Record<string, Provider> = {
  postgresql: "postgresql",
  postgres: "postgresql",
  pg: "postgresql",
  mysql: "mysql",
  mariadb: "mysql",
  sqlite: "sqlite",
};

/**
 * The provider named by `value` (the `PTC_DB` environment variable by
 * default): `postgresql` (the default), `mysql` (MariaDB) or `sqlite`.
 * @throws for any other name.
 */
export function providerNamed(value: string | undefined = process.env.PTC_DB): Provider {
  if (!value) return "postgresql";
  const provider = ALIASES[value.toLowerCase()];
  if (!provider) throw new Error(`PTC_DB=${value}: expected postgresql, mysql (MariaDB) or sqlite`);
  return provider;
}

/** The provider of a connection URL: `postgres(ql)://`, `mysql://` or `mariadb://`, `file:`. */
export function providerOf(url: string): Provider {
  const scheme = url.slice(0, Math.max(0, url.indexOf(":"))).toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") return "postgresql";
  if (scheme === "mysql" || scheme === "mariadb") return "mysql";
  if (scheme === "file") return "sqlite";
  throw new Error(`no test provider for the URL ${url}`);
}

/** A new driver adapter factory for `url`, of the provider the URL names. */
export function driverAdapter(url: string): SqlDriverAdapterFactory {
  switch (providerOf(url)) {
    case "postgresql":
      return new PrismaPg({ connectionString: url });
    case "mysql":
      return new PrismaMariaDb(url);
    case "sqlite":
      return new PrismaBetterSqlite3({ url });
  }
}
