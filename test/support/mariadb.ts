/**
 * A real MariaDB server on loopback for the `mariadb` test project, and its
 * databases: a template holding the committed MySQL migrations
 * (`prisma/mysql/migrations`), copied into a fresh database per test file.
 * The server comes from the first source that works:
 *   1. `MYSQL_URL` from the environment (loopback only, used as given; its user must be able to CREATE DATABASE,
 *      and, for the change feed's test, to replicate from a server running with log_bin and binlog_format = ROW);
 *   2. Debian's `mariadb-server` binaries (`mariadb-install-db`, `mariadbd`) in a temp dir, on a free
 *      loopback port, run as the `mysql` user when we are root;
 *   3. testcontainers (`mariadb:10.11`), only when a Docker engine answers.
 *
 * Free of vitest, so plain scripts can use it.
 * @module
 */
import { chown, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as mariadb from "mariadb";
import {
  assertLoopback,
  exited,
  firstWorking,
  freePort,
  fromEnv,
  logTail,
  makeTempDir,
  pathDirs,
  readMigrations,
  type ServerScope,
  spawnLogged,
  type Started,
  startServer,
  testcontainers,
  unprivilegedUser,
  waitReady,
  which,
} from "./servers";

/** Directory of the committed MySQL/MariaDB migrations. */
export const MYSQL_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/mysql/migrations", import.meta.url));

/** Directory of the committed MySQL/MariaDB migrations of the relationMode = "prisma" schema (no foreign keys). */
export const MYSQL_RM_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/mysql-rm/migrations", import.meta.url));

/** What to tell someone who has no MariaDB. */
export const MARIADB_HINT =
  "Install MariaDB server binaries (mariadb-install-db, mariadbd: `apt-get install mariadb-server`), " +
  "or set MYSQL_URL to a loopback server whose user may CREATE DATABASE, or run a Docker engine for testcontainers.";

/** The user the local server's init file creates for the tests (and the adapter). */
const TEST_USER = { name: "ptc", password: "ptc-test" };

/** Connection settings from a `mysql://` or `mariadb://` URL (the driver parses only the latter, and needs a database in it). */
function connectionConfig(url: string, extra: mariadb.ConnectionConfig = {}): mariadb.ConnectionConfig {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1) || undefined,
    connectTimeout: 5_000,
    ...extra,
  };
}

/** Runs `fn` with a connection to the server of `url` (multi-statement scripts allowed), closing it afterwards. */
export async function withMariadb<T>(url: string, fn: (c: mariadb.Connection) => Promise<T>): Promise<T> {
  const c = await mariadb.createConnection(connectionConfig(url, { multipleStatements: true }));
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Resolves when a MariaDB/MySQL at `url` answers `SELECT 1`. */
export async function mariadbProbe(url: string): Promise<void> {
  await withMariadb(url, (c) => c.query("SELECT 1"));
}

/**
 * Settings of a throwaway test server: fast and unsafe on crash (like
 * Postgres' fsync=off), UTF-8, a row binlog, many connections. What
 * {@link localMariadb} starts with unless told otherwise.
 */
export const SERVER_SETTINGS: readonly string[] = [
  "--skip-name-resolve",
  "--character-set-server=utf8mb4",
  "--collation-server=utf8mb4_unicode_ci",
  "--innodb-flush-log-at-trx-commit=0",
  "--innodb-doublewrite=0",
  "--innodb-log-file-size=16M",
  "--innodb-buffer-pool-size=64M",
  "--sync-binlog=0",
  // A row binlog for the change feed's test (test/integration/feed-mysql.test.ts); the feed announces replica ids other than 1.
  "--log-bin",
  "--binlog-format=ROW",
  "--server-id=1",
  // Each PrismaMariaDb pool keeps up to 10 connections, and a test file makes dozens of clients.
  "--max-connections=1000",
];

/** Options of {@link localMariadb}. */
export interface LocalMariadbOptions {
  /**
   * The server's settings (options of `mariadb-install-db` and `mariadbd`,
   * after the data dir, socket, port and init file), e.g. those of
   * {@link SERVER_SETTINGS} without `--log-bin`. @default SERVER_SETTINGS
   */
  settings?: readonly string[];
}

/**
 * Starts a throwaway MariaDB from Debian's binaries in a temp dir on a free
 * loopback port (`mariadb-install-db` initialises the data dir; the server
 * runs as the `mysql` user when we are root). An init file creates a user
 * with a password on 127.0.0.1, which the returned URL uses.
 */
export async function localMariadb(scope: ServerScope, options: LocalMariadbOptions = {}): Promise<Started> {
  const settings = options.settings ?? SERVER_SETTINGS;
  const sbin = ["/usr/sbin", "/usr/local/sbin", "/usr/bin"];
  const install = which("mariadb-install-db", [...pathDirs(), ...sbin]) ?? which("mysql_install_db", [...pathDirs(), ...sbin]);
  if (!install) throw new Error("mariadb-install-db not found on PATH");
  const server = which("mariadbd", [...pathDirs(), ...sbin]) ?? which("mysqld", [...pathDirs(), ...sbin]);
  if (!server) throw new Error("mariadbd not found on PATH or in /usr/sbin");
  const user = unprivilegedUser("mysql", "MariaDB");
  const dir = await makeTempDir(scope, "mariadb");
  if (user) await chown(dir, user.uid, user.gid);
  const data = path.join(dir, "data");
  const log = path.join(dir, "mariadb.log");
  // --no-defaults first: /etc/mysql's config (data dir, socket, port) is the system server's, never ours.
  const init = spawnLogged(
    install,
    ["--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...settings],
    dir,
    log,
    user,
  );
  if ((await exited(init)) !== 0) throw new Error(`mariadb-install-db failed:\n${logTail(log)}`);
  const initFile = path.join(dir, "init.sql");
  const { name, password } = TEST_USER;
  await writeFile(
    initFile,
    `CREATE USER IF NOT EXISTS '${name}'@'127.0.0.1' IDENTIFIED BY '${password}';\nGRANT ALL PRIVILEGES ON *.* TO '${name}'@'127.0.0.1' WITH GRANT OPTION;\n`,
  );
  if (user) await chown(initFile, user.uid, user.gid);
  const port = await freePort();
  const args = [
    "--no-defaults",
    `--datadir=${data}`,
    `--socket=${path.join(dir, "mariadb.sock")}`,
    `--pid-file=${path.join(dir, "mariadb.pid")}`,
    "--skip-networking=0",
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--init-file=${initFile}`,
    ...settings,
  ];
  const child = startServer(scope, server, args, dir, log, "SIGTERM", user);
  // The database in the URL only satisfies the driver's URL format; tests use databases of their own.
  const url = `mysql://${name}:${password}@127.0.0.1:${port}/mysql`;
  await waitReady("mariadbd", child, log, () => mariadbProbe(url));
  return { url, source: `local ${server} on 127.0.0.1:${port}` };
}

/** Starts `mariadb:10.11` with testcontainers (needs a Docker engine). */
export async function containerMariadb(scope: ServerScope): Promise<Started> {
  const tc = await testcontainers();
  const { name, password } = TEST_USER;
  const c = await new tc.GenericContainer("mariadb:10.11")
    .withEnvironment({ MARIADB_ROOT_PASSWORD: password, MARIADB_USER: name, MARIADB_PASSWORD: password })
    .withCommand([
      "--innodb-flush-log-at-trx-commit=0",
      "--max-connections=1000",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci",
      "--log-bin",
      "--binlog-format=ROW",
      "--server-id=1",
    ])
    .withTmpFs({ "/var/lib/mysql": "rw" })
    .withExposedPorts(3306)
    .withWaitStrategy(tc.Wait.forLogMessage(/ready for connections/, 2))
    .start();
  scope.defer(async () => void (await c.stop()));
  // root: the test user may not CREATE DATABASE in the image.
  const url = `mysql://root:${password}@${c.getHost()}:${c.getMappedPort(3306)}/mysql`;
  assertLoopback("testcontainers MariaDB", url);
  return { url, source: `testcontainers ${c.getId().slice(0, 12)}` };
}

/** A MariaDB (or MySQL): `MYSQL_URL`, else local binaries, else testcontainers. */
export async function startMariadb(scope: ServerScope): Promise<Started> {
  return (await fromEnv("MYSQL_URL", mariadbProbe)) ?? firstWorking("mariadb", [() => localMariadb(scope), () => containerMariadb(scope)]);
}

const ident = (name: string) => `\`${name.replace(/`/g, "``")}\``;

/**
 * (Re)creates database `name` on the server of `adminUrl` and applies every
 * committed MySQL migration in `dir` to it. Returns its URL.
 * @throws naming the migration that failed.
 */
export async function createMigratedMariadb(adminUrl: string, name: string, dir = MYSQL_MIGRATIONS_DIR): Promise<string> {
  const migrations = await readMigrations(dir);
  await withMariadb(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
    await c.query(`CREATE DATABASE ${ident(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await c.query(`USE ${ident(name)}`);
    for (const m of migrations) {
      try {
        await c.query(m.sql);
      } catch (err) {
        throw new Error(`MySQL migration ${m.name} failed: ${String(err)}`);
      }
    }
  });
  return mariadbDatabaseUrl(adminUrl, name);
}

/** The URL of database `name` on the server of `adminUrl`. */
export function mariadbDatabaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates database `name` with the tables of database `template` (MariaDB has
 * no CREATE DATABASE ... TEMPLATE, and CREATE TABLE ... LIKE drops foreign
 * keys): each table's `SHOW CREATE TABLE` text, run in the new database with
 * foreign key checks off so that the order does not matter. Returns its URL.
 */
export async function copyMariadbDatabase(adminUrl: string, template: string, name: string): Promise<string> {
  await withMariadb(adminUrl, async (c) => {
    const tables: Array<{ name: string }> = await c.query(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [template],
    );
    const ddl: string[] = [];
    for (const t of tables) {
      const [row] = (await c.query(`SHOW CREATE TABLE ${ident(template)}.${ident(t.name)}`)) as Array<Record<string, string>>;
      ddl.push(row!["Create Table"]!);
    }
    await c.query(`CREATE DATABASE ${ident(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await c.query(`USE ${ident(name)}; SET FOREIGN_KEY_CHECKS = 0; ${ddl.join(";\n")}; SET FOREIGN_KEY_CHECKS = 1`);
  });
  return mariadbDatabaseUrl(adminUrl, name);
}

/** Drops database `name`. Unlike Postgres, MariaDB drops it while other connections use it (it waits only for their open transactions). */
export async function dropMariadbDatabase(adminUrl: string, name: string): Promise<void> {
  await withMariadb(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)}`));
}

/** Drops every database named `ptc_<runId>_*` (what one run created on a shared server). */
export async function dropRunMariadbDatabases(adminUrl: string, runId: string): Promise<void> {
  await withMariadb(adminUrl, async (c) => {
    const rows: Array<{ name: string }> = await c.query("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", [
      `ptc\\_${runId}\\_%`,
    ]);
    for (const { name } of rows) await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
  });
}
