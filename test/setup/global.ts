/**
 * Vitest global setup: provides a real PostgreSQL (with a migrated template
 * database) and a real Redis, both on loopback. Each service comes from the
 * first source that works:
 *   1. `DATABASE_URL` / `REDIS_URL` from the environment;
 *   2. local binaries (`initdb` + `postgres`, `redis-server`) in a temp dir;
 *   3. testcontainers, only when a Docker engine answers.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the test Postgres server's `postgres` database (for CREATE/DROP DATABASE). */
    ptcPgAdminUrl: string;
    /** Name of the template database holding the committed migrations. */
    ptcTemplateDb: string;
    /** URL of the test Redis server. */
    ptcRedisUrl: string;
    /** Unique id of this test run; used in database names and key namespaces. */
    ptcRunId: string;
  }
}

const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));
const INSTALL_HINT =
  "Install PostgreSQL 15+ server binaries (initdb, postgres) and redis-server " +
  "(e.g. `apt-get install postgresql redis-server`), or set DATABASE_URL and REDIS_URL " +
  "to loopback servers, or run a Docker engine for testcontainers.";

type Cleanup = () => Promise<void>;
interface Started { url: string; source: string }

const cleanups: Cleanup[] = [];
/** Children still running, with the signal that stops them at once if Node exits abruptly. */
const children = new Map<ChildProcess, NodeJS.Signals>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isLoopback(url: string): boolean {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "") || (u.searchParams.get("host")?.startsWith("/") ? "localhost" : "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function assertLoopback(what: string, url: string): void {
  if (!isLoopback(url)) throw new Error(`${what} must point at a loopback host (localhost/127.0.0.1/::1), got ${new URL(url).host}`);
}

function which(bin: string, dirs: string[]): string | undefined {
  for (const dir of dirs) if (dir && existsSync(path.join(dir, bin))) return path.join(dir, bin);
  return undefined;
}

const pathDirs = () => (process.env.PATH ?? "").split(path.delimiter);

function debianPgDirs(): string[] {
  try {
    return readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

function freePort(): Promise<number> {
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

/** Postgres refuses to run as root: when we are root, run it as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { stdio: "pipe" }).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { stdio: "pipe" }).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root and there is no `postgres` user to run Postgres as (create it: useradd -r postgres)");
  }
}

function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

function spawnLogged(cmd: string, args: string[], cwd: string, log: string, user?: { uid: number; gid: number }): ChildProcess {
  const fd = openSync(log, "a");
  try {
    return spawn(cmd, args, { cwd, stdio: ["ignore", fd, fd], env: { ...process.env, LC_ALL: "C" }, ...user });
  } finally {
    closeSync(fd);
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", reject);
  });
}

/** Stops a child with `signal`, escalating to SIGKILL after 10 s. */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await done.catch(() => undefined);
  clearTimeout(timer);
}

/** Starts a long-running server and registers its cleanup. */
function startServer(cmd: string, args: string[], cwd: string, log: string, stopSignal: NodeJS.Signals, user?: { uid: number; gid: number }): ChildProcess {
  const child = spawnLogged(cmd, args, cwd, log, user);
  child.on("error", () => undefined);
  children.set(child, stopSignal === "SIGINT" ? "SIGQUIT" : "SIGKILL");
  cleanups.push(() => stop(child, stopSignal));
  return child;
}

/** Polls `probe` until it succeeds; fails early with the log if the server exits. */
async function waitReady(what: string, child: ChildProcess, log: string, probe: () => Promise<void>): Promise<void> {
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

async function pgProbe(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
  } finally {
    await c.end().catch(() => undefined);
  }
}

function redisProbe(url: string): Promise<void> {
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

async function makeTempDir(kind: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ptc-${kind}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function localPostgres(): Promise<Started> {
  const initdb = which("initdb", [...pathDirs(), ...debianPgDirs()]);
  if (!initdb) throw new Error("initdb not found on PATH");
  const postgres = which("postgres", [path.dirname(initdb), ...pathDirs()]);
  if (!postgres) throw new Error("postgres server binary not found next to initdb or on PATH");
  const user = serverUser();
  const dir = await makeTempDir("pg");
  if (user) await chown(dir, user.uid, user.gid);
  const data = path.join(dir, "data");
  const log = path.join(dir, "postgres.log");
  const init = spawnLogged(initdb, ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], dir, log, user);
  if ((await exited(init)) !== 0) throw new Error(`initdb failed:\n${logTail(log)}`);
  const port = await freePort();
  const settings = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"];
  const args = ["-D", data, "-p", String(port), "-k", dir, ...settings.flatMap((s) => ["-c", s])];
  const child = startServer(postgres, args, dir, log, "SIGINT", user);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await waitReady("postgres", child, log, () => pgProbe(url));
  return { url, source: `local ${postgres} on 127.0.0.1:${port}` };
}

async function localRedis(): Promise<Started> {
  const bin = which("redis-server", pathDirs());
  if (!bin) throw new Error("redis-server not found on PATH");
  const dir = await makeTempDir("redis");
  const log = path.join(dir, "redis.log");
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"];
  const child = startServer(bin, args, dir, log, "SIGTERM");
  const url = `redis://127.0.0.1:${port}`;
  await waitReady("redis-server", child, log, () => redisProbe(url));
  return { url, source: `local ${bin} on 127.0.0.1:${port}` };
}

let tcModule: Promise<typeof import("testcontainers")> | undefined;

/** Loads testcontainers only if a Docker engine answers. */
async function testcontainers(): Promise<typeof import("testcontainers")> {
  const sockets = ["/var/run/docker.sock", path.join(os.homedir(), ".docker/run/docker.sock")];
  if (!process.env.DOCKER_HOST && !sockets.some((s) => existsSync(s))) throw new Error("no Docker engine (no DOCKER_HOST, no docker.sock)");
  tcModule ??= import("testcontainers").then(async (tc) => {
    await tc.getContainerRuntimeClient();
    return tc;
  });
  return tcModule;
}

async function containerPostgres(): Promise<Started> {
  const tc = await testcontainers();
  const c = await new tc.GenericContainer("postgres:15-alpine")
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
    .withCommand(["postgres", "-c", "fsync=off", "-c", "max_connections=300"])
    .withTmpFs({ "/var/lib/postgresql/data": "rw" })
    .withExposedPorts(5432)
    .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  cleanups.push(async () => void (await c.stop()));
  const url = `postgresql://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
  assertLoopback("testcontainers Postgres", url);
  return { url, source: `testcontainers ${c.getId().slice(0, 12)}` };
}

async function containerRedis(): Promise<Started> {
  const tc = await testcontainers();
  const c = await new tc.GenericContainer("redis:7-alpine")
    .withCommand(["redis-server", "--save", "", "--appendonly", "no"])
    .withExposedPorts(6379)
    .withWaitStrategy(tc.Wait.forLogMessage("Ready to accept connections"))
    .start();
  cleanups.push(async () => void (await c.stop()));
  const url = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
  assertLoopback("testcontainers Redis", url);
  return { url, source: `testcontainers ${c.getId().slice(0, 12)}` };
}

/** An explicit env URL is used as given (loopback only) and never silently replaced. */
async function fromEnv(name: string, probe: (url: string) => Promise<void>): Promise<Started | undefined> {
  const url = process.env[name];
  if (!url) return undefined;
  assertLoopback(name, url);
  await probe(url).catch((err) => {
    throw new Error(`${name}=${url} does not answer: ${String(err)}`);
  });
  return { url, source: `${name}` };
}

/** Tries each source in turn; the error lists why every source failed. */
async function firstWorking(what: string, sources: Array<() => Promise<Started>>): Promise<Started> {
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

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates `name` and applies every committed migration, in directory order. */
async function createTemplate(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const dirs = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await withClient(url.toString(), async (c) => {
    for (const dir of dirs) {
      const file = path.join(MIGRATIONS_DIR, dir, "migration.sql");
      if (!existsSync(file)) continue;
      try {
        await c.query(await readFile(file, "utf8"));
      } catch (err) {
        throw new Error(`migration ${dir} failed: ${String(err)}`);
      }
    }
  });
}

/** Drops databases this run created on a shared (env-provided) server. */
async function dropRunDatabases(adminUrl: string, runId: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`ptc\\_${runId}\\_%`]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}

function killChildrenSync(): void {
  for (const [child, signal] of children) child.kill(signal);
}

async function runCleanups(): Promise<void> {
  process.off("exit", killChildrenSync);
  for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => console.error("[ptc test setup] cleanup failed:", err));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(3).toString("hex");
  process.once("exit", killChildrenSync);
  try {
    const [pgResult, redisResult] = await Promise.allSettled([
      (async () => (await fromEnv("DATABASE_URL", pgProbe)) ?? firstWorking("postgres", [localPostgres, containerPostgres]))(),
      (async () => (await fromEnv("REDIS_URL", redisProbe)) ?? firstWorking("redis", [localRedis, containerRedis]))(),
    ]);
    const failures = [pgResult, redisResult].filter((r) => r.status === "rejected").map((r) => String(r.reason?.message ?? r.reason));
    if (pgResult.status === "rejected" || redisResult.status === "rejected") {
      throw new Error(`Integration tests need PostgreSQL and Redis. ${failures.join(" | ")}.\n${INSTALL_HINT}`);
    }
    const pgServer = pgResult.value;
    const shared = pgServer.source === "DATABASE_URL";
    // A private server gets the fixed template name; a shared one gets a per-run name.
    const template = shared ? `ptc_${runId}_template` : "ptc_template";
    if (shared) cleanups.unshift(() => dropRunDatabases(pgServer.url, runId));
    await createTemplate(pgServer.url, template);
    console.log(`[ptc test setup] postgres: ${pgServer.source}; redis: ${redisResult.value.source}`);
    project.provide("ptcPgAdminUrl", pgServer.url);
    project.provide("ptcTemplateDb", template);
    project.provide("ptcRedisUrl", redisResult.value.url);
    project.provide("ptcRunId", runId);
  } catch (err) {
    await runCleanups();
    throw err;
  }
  return runCleanups;
}
