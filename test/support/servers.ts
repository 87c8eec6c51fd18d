/**
 * Real PostgreSQL and Redis servers on loopback, for the integration tests'
 * global setup and for the benchmarks. Each service comes from the first
 * source that works:
 *   1. `DATABASE_URL` / `REDIS_URL` from the environment (loopback only, used as given);
 *   2. local binaries (`initdb` + `postgres`, `redis-server`) in a temp dir, on a free port
 *      (Postgres runs as the `postgres` user when we are root);
 *   3. testcontainers, only when a Docker engine answers.
 *
 * Everything started is owned by a {@link ServerScope}; `scope.close()` stops
 * it and removes its temp dirs. Free of vitest, so plain scripts can use it.
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** Directory of the committed Prisma migrations (`prisma/migrations`). */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/** One committed migration: its directory name and SQL text. */
export interface Migration {
  name: string;
  sql: string;
}

/**
 * The committed migrations in `dir` (`<dir>/<name>/migration.sql`, the files
 * `prisma migrate deploy` reads), in directory order.
 */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(path.join(dir, name, "migration.sql"), "utf8") })));
}

/** What to tell someone who has neither server. */
export const INSTALL_HINT =
  "Install PostgreSQL 15+ server binaries (initdb, postgres) and redis-server " +
  "(e.g. `apt-get install postgresql redis-server`), or set DATABASE_URL and REDIS_URL " +
  "to loopback servers, or run a Docker engine for testcontainers.";

/** Releases one resource. */
export type Cleanup = () => Promise<void>;

/** A server ready to take connections. */
export interface Started {
  /** Connection URL (for Postgres: its `postgres` database, usable for CREATE/DROP DATABASE). */
  url: string;
  /** Where it came from, for logs: `DATABASE_URL`, `local /usr/bin/redis-server on ...`, `testcontainers <id>`. */
  source: string;
}

/** Both servers of {@link startServers}. */
export interface Servers {
  postgres: Started;
  redis: Started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Owns what one run started: server processes, temp dirs, containers, extra
 * cleanups. {@link close} releases them in reverse order of registration. If
 * Node exits without `close()` (an uncaught error, `process.exit`), server
 * processes are still signalled synchronously from an `exit` hook.
 */
export class ServerScope {
  private readonly cleanups: Cleanup[] = [];
  /** Children still running, with the signal that stops them at once if Node exits abruptly. */
  private readonly children = new Map<ChildProcess, NodeJS.Signals>();
  private readonly killChildrenSync = (): void => {
    for (const [child, signal] of this.children) child.kill(signal);
  };

  /** @param label prefix of the message logged when a cleanup fails. */
  constructor(private readonly label = "[ptc servers]") {
    process.once("exit", this.killChildrenSync);
  }

  /** Registers a cleanup that runs before every cleanup registered earlier. */
  defer(fn: Cleanup): void {
    this.cleanups.push(fn);
  }

  /** Registers a cleanup that runs after every other one (e.g. dropping databases on a shared server). */
  deferLast(fn: Cleanup): void {
    this.cleanups.unshift(fn);
  }

  /** Tracks a server process until `stop` ends it; on abrupt exit it gets `abruptSignal`. @internal */
  track(child: ChildProcess, stopSignal: NodeJS.Signals, abruptSignal: NodeJS.Signals): void {
    this.children.set(child, abruptSignal);
    this.defer(() => this.stop(child, stopSignal));
  }

  /** Stops a child with `signal`, escalating to SIGKILL after 10 s. */
  private async stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    this.children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = exited(child);
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await done.catch(() => undefined);
    clearTimeout(timer);
  }

  /** Runs every cleanup (newest first), logging failures instead of throwing. Safe to call twice. */
  async close(): Promise<void> {
    process.off("exit", this.killChildrenSync);
    for (const fn of this.cleanups.splice(0).reverse()) await fn().catch((err) => console.error(`${this.label} cleanup failed:`, err));
  }
}

/** Whether `url` points at localhost, 127.x.x.x or ::1 (or a Unix socket via `?host=/...`). */
export function isLoopback(url: string): boolean {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "") || (u.searchParams.get("host")?.startsWith("/") ? "localhost" : "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** @throws unless `url` points at a loopback host. */
export function assertLoopback(what: string, url: string): void {
  if (!isLoopback(url)) throw new Error(`${what} must point at a loopback host (localhost/127.0.0.1/::1), got ${new URL(url).host}`);
}

/** The first `dir/bin` that exists. */
export function which(bin: string, dirs: string[]): string | undefined {
  for (const dir of dirs) if (dir && existsSync(path.join(dir, bin))) return path.join(dir, bin);
  return undefined;
}

/** The directories of `PATH`. */
export const pathDirs = () => (process.env.PATH ?? "").split(path.delimiter);

/** A Postgres client program (`pg_recvlogical`, `psql`): on PATH, else beside the server binaries Debian installs. */
export function postgresProgram(bin: string): string {
  const found = which(bin, [...pathDirs(), ...debianPgDirs()]);
  if (!found) throw new Error(`${bin} not found on PATH nor in /usr/lib/postgresql/*/bin (it comes with the PostgreSQL client programs)`);
  return found;
}

function debianPgDirs(): string[] {
  try {
    return readdirSync("/usr/lib/postgresql")
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A user to run a server as. */
export interface ServerUser {
  uid: number;
  gid: number;
}

/**
 * Database servers refuse to run as root (Postgres), or should not: when we
 * are root, the server runs as the system user `name`; otherwise as us.
 * @param what the server, for the error message.
 */
export function unprivilegedUser(name: string, what: string): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", name], { stdio: "pipe" }).toString().trim());
    const gid = Number(execFileSync("id", ["-g", name], { stdio: "pipe" }).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error(`running as root and there is no \`${name}\` user to run ${what} as (create it: useradd -r ${name})`);
  }
}

/** The last lines of a server's log, for error messages. */
export function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Spawns `cmd` with its output appended to `log`, as `user` when given. */
export function spawnLogged(cmd: string, args: string[], cwd: string, log: string, user?: ServerUser): ChildProcess {
  const fd = openSync(log, "a");
  try {
    return spawn(cmd, args, { cwd, stdio: ["ignore", fd, fd], env: { ...process.env, LC_ALL: "C" }, ...user });
  } finally {
    closeSync(fd);
  }
}

/** Resolves with the exit code once `child` has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", reject);
  });
}

/** Starts a long-running server owned by `scope`. */
export function startServer(
  scope: ServerScope,
  cmd: string,
  args: string[],
  cwd: string,
  log: string,
  stopSignal: NodeJS.Signals,
  user?: ServerUser,
): ChildProcess {
  const child = spawnLogged(cmd, args, cwd, log, user);
  child.on("error", () => undefined);
  scope.track(child, stopSignal, stopSignal === "SIGINT" ? "SIGQUIT" : "SIGKILL");
  return child;
}

/** Polls `probe` until it succeeds; fails early with the log if the server exits. */
export async function waitReady(what: string, child: ChildProcess, log: string, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during startup:\n${logTail(log)}`);
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} not ready after 30 s (${String(err)}):\n${logTail(log)}`);
      await sleep(50);
    }
  }
}

/** Resolves when a Postgres at `url` answers `SELECT 1`. */
export async function pgProbe(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Resolves when a Redis at `url` answers `PING`. */
export function redisProbe(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 6379) });
    sock.setTimeout(2_000, () => sock.destroy(new Error("timeout")));
    sock.on("error", reject);
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      sock.destroy();
      d.toString().startsWith("+PONG") ? resolve() : reject(new Error(`unexpected reply ${d.toString().trim()}`));
    });
  });
}

/** A temp dir `ptc-<kind>-*`, removed when `scope` closes. */
export async function makeTempDir(scope: ServerScope, kind: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ptc-${kind}-`));
  scope.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts a throwaway Postgres from local binaries in a temp dir on a free
 * loopback port (fsync off, wal_level logical); `extra` settings
 * (`name=value`) are passed after the defaults, so they win.
 */
export async function localPostgres(scope: ServerScope, extra: readonly string[] = []): Promise<Started> {
  const initdb = which("initdb", [...pathDirs(), ...debianPgDirs()]);
  if (!initdb) throw new Error("initdb not found on PATH");
  const postgres = which("postgres", [path.dirname(initdb), ...pathDirs()]);
  if (!postgres) throw new Error("postgres server binary not found next to initdb or on PATH");
  const user = unprivilegedUser("postgres", "Postgres");
  const dir = await makeTempDir(scope, "pg");
  if (user) await chown(dir, user.uid, user.gid);
  const data = path.join(dir, "data");
  const log = path.join(dir, "postgres.log");
  const init = spawnLogged(initdb, ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], dir, log, user);
  if ((await exited(init)) !== 0) throw new Error(`initdb failed:\n${logTail(log)}`);
  const port = await freePort();
  // wal_level=logical: the change feed's tests read the log through replication slots.
  const settings = [
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "wal_level=logical",
    "max_replication_slots=64",
    "max_wal_senders=64",
    ...extra,
  ];
  const args = ["-D", data, "-p", String(port), "-k", dir, ...settings.flatMap((s) => ["-c", s])];
  const child = startServer(scope, postgres, args, dir, log, "SIGINT", user);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await waitReady("postgres", child, log, () => pgProbe(url));
  return { url, source: `local ${postgres} on 127.0.0.1:${port}` };
}

/** Starts a throwaway `redis-server` (no persistence) in a temp dir on a free loopback port. */
export async function localRedis(scope: ServerScope): Promise<Started> {
  const bin = which("redis-server", pathDirs());
  if (!bin) throw new Error("redis-server not found on PATH");
  const dir = await makeTempDir(scope, "redis");
  const log = path.join(dir, "redis.log");
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"];
  const child = startServer(scope, bin, args, dir, log, "SIGTERM");
  const url = `redis://127.0.0.1:${port}`;
  await waitReady("redis-server", child, log, () => redisProbe(url));
  return { url, source: `local ${bin} on 127.0.0.1:${port}` };
}

let tcModule: Promise<typeof import("testcontainers")> | undefined;

/** Loads testcontainers only if a Docker engine answers. */
export async function testcontainers(): Promise<typeof import("testcontainers")> {
  const sockets = ["/var/run/docker.sock", path.join(os.homedir(), ".docker/run/docker.sock")];
  if (!process.env.DOCKER_HOST && !sockets.some((s) => existsSync(s))) throw new Error("no Docker engine (no DOCKER_HOST, no docker.sock)");
  tcModule ??= import("testcontainers").then(async (tc) => {
    await tc.getContainerRuntimeClient();
    return tc;
  });
  return tcModule;
}

/** Starts `postgres:15-alpine` with testcontainers (needs a Docker engine). */
export async function containerPostgres(scope: ServerScope): Promise<Started> {
  const tc = await testcontainers();
  const c = await new tc.GenericContainer("postgres:15-alpine")
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
    .withCommand([
      "postgres",
      "-c",
      "fsync=off",
      "-c",
      "max_connections=300",
      "-c",
      "wal_level=logical",
      "-c",
      "max_replication_slots=64",
      "-c",
      "max_wal_senders=64",
    ])
    .withTmpFs({ "/var/lib/postgresql/data": "rw" })
    .withExposedPorts(5432)
    .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  scope.defer(async () => void (await c.stop()));
  const url = `postgresql://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
  assertLoopback("testcontainers Postgres", url);
  return { url, source: `testcontainers ${c.getId().slice(0, 12)}` };
}

/** Starts `redis:7-alpine` with testcontainers (needs a Docker engine). */
export async function containerRedis(scope: ServerScope): Promise<Started> {
  const tc = await testcontainers();
  const c = await new tc.GenericContainer("redis:7-alpine")
    .withCommand(["redis-server", "--save", "", "--appendonly", "no"])
    .withExposedPorts(6379)
    .withWaitStrategy(tc.Wait.forLogMessage("Ready to accept connections"))
    .start();
  scope.defer(async () => void (await c.stop()));
  const url = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
  assertLoopback("testcontainers Redis", url);
  return { url, source: `testcontainers ${c.getId().slice(0, 12)}` };
}

/**
 * The server named by env var `name`, if set: used as given (loopback only)
 * and never silently replaced; its `source` is the variable's name.
 * @throws if the URL is not loopback or the server does not answer.
 */
export async function fromEnv(name: string, probe: (url: string) => Promise<void>): Promise<Started | undefined> {
  const url = process.env[name];
  if (!url) return undefined;
  assertLoopback(name, url);
  await probe(url).catch((err) => {
    throw new Error(`${name}=${url} does not answer: ${String(err)}`);
  });
  return { url, source: `${name}` };
}

/** Tries each source in turn; the error lists why every source failed. */
export async function firstWorking(what: string, sources: Array<() => Promise<Started>>): Promise<Started> {
  const reasons: string[] = [];
  for (const source of sources) {
    try {
      return await source();
    } catch (err) {
      reasons.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new Error(`${what}: ${reasons.join("; ")}`);
}

/** A Postgres: `DATABASE_URL`, else local binaries, else testcontainers. */
export async function startPostgres(scope: ServerScope): Promise<Started> {
  return (await fromEnv("DATABASE_URL", pgProbe)) ?? firstWorking("postgres", [() => localPostgres(scope), () => containerPostgres(scope)]);
}

/** A Redis: `REDIS_URL`, else local `redis-server`, else testcontainers. */
export async function startRedis(scope: ServerScope): Promise<Started> {
  return (await fromEnv("REDIS_URL", redisProbe)) ?? firstWorking("redis", [() => localRedis(scope), () => containerRedis(scope)]);
}

/** Whether a server came from the environment (shared with others: only touch what this run created). */
export function isShared(server: Started): boolean {
  return server.source === "DATABASE_URL" || server.source === "REDIS_URL" || server.source === "MYSQL_URL";
}

/**
 * Starts (or finds) Postgres and Redis in parallel. On failure the error says
 * why every source failed for each server, plus {@link INSTALL_HINT}; what did
 * start stays registered in `scope` (close it).
 * @param who subject of the error message, e.g. "Integration tests".
 */
export async function startServers(scope: ServerScope, who = "Integration tests"): Promise<Servers> {
  const [pgResult, redisResult] = await Promise.allSettled([startPostgres(scope), startRedis(scope)]);
  const failures = [pgResult, redisResult].filter((r) => r.status === "rejected").map((r) => String(r.reason?.message ?? r.reason));
  if (pgResult.status === "rejected" || redisResult.status === "rejected") {
    throw new Error(`${who} need PostgreSQL and Redis. ${failures.join(" | ")}.\n${INSTALL_HINT}`);
  }
  return { postgres: pgResult.value, redis: redisResult.value };
}

/** Runs `fn` with a connected `pg.Client`, closing it afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Applies every committed migration (`prisma/migrations/<dir>/migration.sql`,
 * in directory order) to the database at `url`.
 * @throws naming the migration that failed.
 */
export async function applyMigrations(url: string): Promise<void> {
  const migrations = await readMigrations(MIGRATIONS_DIR);
  await withClient(url, async (c) => {
    for (const { name, sql } of migrations) {
      try {
        await c.query(sql);
      } catch (err) {
        throw new Error(`migration ${name} failed: ${String(err)}`);
      }
    }
  });
}

/**
 * (Re)creates database `name` (dropping any existing one, connections and all)
 * and applies every committed migration. Returns its URL.
 */
export async function createMigratedDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const url = databaseUrl(adminUrl, name);
  await applyMigrations(url);
  return url;
}

/** Drops every database named `ptc_<runId>_*` (what one run created on a shared server). */
export async function dropRunDatabases(adminUrl: string, runId: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`ptc\\_${runId}\\_%`]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}
