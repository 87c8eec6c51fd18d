/**
 * The load side both HTTP examples' load scripts (`../http-api/load.ts`,
 * `../blog-api/load.ts`) share: their `LOAD_*` settings, the servers of a
 * run and their cleanup, the Zipf picker and the weighted choice of a route,
 * autocannon over a pair of instances, the measure of one side (with or
 * without the cache), and the machine and settings that head results.json.
 * Each script keeps its data, its mixes and what it reports of the cache.
 *
 * - Servers ({@link withLoadRun}): like the tests (test/support/servers.ts),
 *   `DATABASE_URL` / `REDIS_URL` if set (loopback only), else local
 *   `postgres` and `redis-server` binaries on free loopback ports, else
 *   testcontainers. On a given Postgres a run creates databases of its own
 *   (`ptc_<run>_*`) and drops them afterwards; on a given Redis it uses
 *   namespaces of its own and deletes their keys.
 * - Settings ({@link loadSettings}): `LOAD_DURATION` (s per side, default
 *   10), `LOAD_WARMUP` (s per side, not measured, default 2),
 *   `LOAD_CONNECTIONS` (default 20, split over the two instances),
 *   `LOAD_SEED` (the request mix's PRNG seed).
 * @module
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { dropRunDatabases, ServerScope, type Servers, startServers, withClient } from "../../test/support/servers";
import { type ApiProcess, scrapeMetrics } from "./instances";

/** Instances per side: two processes sharing one Postgres and one Redis. */
export const INSTANCES = 2;

/** The `LOAD_*` settings of a run. */
export interface LoadSettings {
  /** `LOAD_DURATION`: seconds measured per side. */
  duration: number;
  /** `LOAD_WARMUP`: seconds per side before the measure, not measured. */
  warmup: number;
  /** `LOAD_CONNECTIONS`, rounded to an even number (at least 2): connections over both instances. */
  connections: number;
  /** `LOAD_SEED`: the seed of the request mix's PRNG. */
  seed: number;
}

/**
 * The `LOAD_*` settings from the environment; `defaultSeed` without `LOAD_SEED`.
 * @throws if `LOAD_DURATION`, `LOAD_WARMUP` or `LOAD_CONNECTIONS` is not a positive number.
 */
export function loadSettings(defaultSeed: number): LoadSettings {
  const seconds = (name: string, fallback: number) => {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
    return value;
  };
  return {
    duration: seconds("LOAD_DURATION", 10),
    warmup: seconds("LOAD_WARMUP", 2),
    connections: Math.max(2, Math.round(seconds("LOAD_CONNECTIONS", 20) / 2) * 2),
    seed: Number(process.env.LOAD_SEED ?? defaultSeed),
  };
}

/** What one side measured. */
export interface Side<Counters> {
  /** Mean of autocannon's per-second request counts. */
  requestsPerSecond: number;
  /** Latency percentiles and maximum, in ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Requests answered during the measured run. */
  requests: number;
  /** Cache counters summed over both instances over the measured run (with the cache). */
  cache?: Counters;
  /**
   * CPU time per request answered over the measured run, in µs, by who
   * spent it (Linux only: read from /proc): the instances (this process's
   * descendants), Postgres, Redis, this process (the load generator), and
   * every other process of the machine.
   */
  cpuUsPerRequest?: CpuShares;
}

/** CPU time by who spent it (see {@link Side.cpuUsPerRequest}). */
export interface CpuShares {
  instances: number;
  postgres: number;
  redis: number;
  loadGenerator: number;
  other: number;
}

/** One process's CPU time so far (user + system, in clock ticks), who its parent is and its command name. */
interface ProcessCpu {
  ppid: number;
  comm: string;
  ticks: number;
}

/** Every process's CPU time from /proc, or undefined where there is no /proc. */
function cpuSnapshot(): Map<number, ProcessCpu> | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const out = new Map<number, ProcessCpu>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // pid (comm) state ppid ... utime stime: fields 14 and 15, counted after the ")" that ends comm.
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      out.set(Number(pid), { ppid: Number(fields[1]), comm: stat.slice(stat.indexOf("(") + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The process ended while being read.
    }
  }
  return out;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The CPU time spent between two snapshots, per request, by who spent it. */
function cpuBetween(before: Map<number, ProcessCpu>, after: Map<number, ProcessCpu>, requests: number): CpuShares {
  const isDescendant = (pid: number): boolean => {
    for (let p = after.get(pid)?.ppid; p !== undefined && p > 1; p = after.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  const ticks: CpuShares = { instances: 0, postgres: 0, redis: 0, loadGenerator: 0, other: 0 };
  for (const [pid, a] of after) {
    const spent = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (spent <= 0) continue;
    const who: keyof CpuShares =
      pid === process.pid
        ? "loadGenerator"
        : a.comm.startsWith("postgres")
          ? "postgres"
          : a.comm.startsWith("redis-server")
            ? "redis"
            : isDescendant(pid)
              ? "instances"
              : "other";
    ticks[who] += spent;
  }
  const us = (t: number) => Math.round(((t / TICKS_PER_SECOND) * 1e6) / Math.max(1, requests));
  return {
    instances: us(ticks.instances),
    postgres: us(ticks.postgres),
    redis: us(ticks.redis),
    loadGenerator: us(ticks.loadGenerator),
    other: us(ticks.other),
  };
}

/** The servers of a run, and the names it owns on them. */
export interface LoadRun {
  /** The Postgres and the Redis. */
  servers: Servers;
  /** The run's id: its databases are named `ptc_<runId>_*`. */
  runId: string;
  /** The run's Redis namespace, `<name>-load:<runId>`: each side uses one below it. */
  namespace: string;
}

/**
 * Starts (or finds) the servers and runs `body` on them; then drops the
 * run's databases and deletes its Redis keys, and stops what it started.
 * @param name the example's name (`http-api`): the prefix of the run's namespace and of its cleanup logs.
 * @param who what needs the servers, for the message when none can be had.
 */
export async function withLoadRun(name: string, who: string, body: (run: LoadRun) => Promise<void>): Promise<void> {
  const scope = new ServerScope(`[${name} load]`);
  try {
    const servers = await startServers(scope, who);
    const runId = randomBytes(3).toString("hex");
    const namespace = `${name}-load:${runId}`;
    scope.defer(() => dropRunDatabases(servers.postgres.url, runId));
    scope.defer(() => dropKeys(servers.redis.url, namespace));
    await body({ servers, runId, namespace });
  } finally {
    await scope.close();
  }
}

/** Deletes every key of `namespace` (a run of its own on a shared Redis). */
async function dropKeys(url: string, namespace: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: `${namespace}:*`, count: 1000 })) if ((keys as string[]).length) await redis.del(...(keys as string[]));
  } finally {
    redis.disconnect();
  }
}

/** The servers' versions, as results.json records them. */
export interface ServerVersions {
  /** Postgres's `server_version`. */
  postgres: string;
  /** Redis's `redis_version`. */
  redis: string | undefined;
}

/** Asks both servers their versions, and prints them with where the servers came from. */
export async function describeServers(servers: Servers): Promise<ServerVersions> {
  const postgres = await withClient(servers.postgres.url, async (c) => (await c.query("SHOW server_version")).rows[0].server_version);
  const redis = await (async () => {
    const client = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
    try {
      return /redis_version:(\S+)/.exec(await client.info("server"))?.[1];
    } finally {
      client.disconnect();
    }
  })();
  console.log(`postgres ${postgres} (${servers.postgres.source}); redis ${redis} (${servers.redis.source})`);
  return { postgres, redis };
}

/** Prints how each side is loaded. */
export function describeSettings(settings: LoadSettings): void {
  console.log(`${INSTANCES} instances, ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s per side`);
}

/** The load averages over 1, 5 and 15 minutes, to two decimals: what else ran here. */
export function loadAverage(): number[] {
  return os.loadavg().map((n) => Number(n.toFixed(2)));
}

/** Picks an element of `xs` with Zipf weights of exponent `s` (the element of rank k with weight 1/k^s; the first is the most likely), from uniform `rand`. */
export function zipf<T>(xs: readonly T[], rand: () => number, s: number): () => T {
  const cdf = new Float64Array(xs.length);
  let sum = 0;
  for (let i = 0; i < xs.length; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return xs[lo]!;
  };
}

/**
 * A generator of a mix's requests: each draws a route from `rand` with the
 * weights of `percent` (routes of 0 % never), and makes its request with `make`.
 * @throws unless the weights add up to 100.
 */
export function drawRequests<Route extends string>(
  percent: Record<Route, number>,
  make: Record<Route, () => autocannon.Request>,
  rand: () => number,
): () => autocannon.Request {
  const routes = (Object.entries(percent) as Array<[Route, number]>).filter(([, p]) => p > 0);
  const total = routes.reduce((sum, [, p]) => sum + p, 0);
  if (Math.abs(total - 100) > 1e-9) throw new Error(`a mix must add up to 100 %, not ${total}`);
  return () => {
    let r = rand() * 100;
    for (const [route, p] of routes) if ((r -= p) < 0) return make[route]();
    return make[routes.at(-1)![0]]();
  };
}

/** Runs the requests of `next` against every instance for `duration` seconds; fails on any error or non-2xx answer. */
export async function cannon(instances: ApiProcess[], next: () => autocannon.Request, duration: number, connections: number): Promise<autocannon.Result> {
  const options = {
    // autocannon takes several URLs and spreads the connections over them
    // round-robin, into one histogram (its README); its types only say string.
    url: instances.map((p) => p.url) as unknown as string,
    connections,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
  } satisfies autocannon.Options;
  const result = await autocannon(options);
  if (result.errors || result.non2xx || result.timeouts)
    throw new Error(
      `load run failed: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`,
    );
  return result;
}

/** How {@link measureSide} loads one side. */
export interface SidePlan<Counters> {
  /** Starts `count` instances. */
  start(count: number): Promise<ApiProcess[]>;
  /** The requests of the warm-up, then of the measured run (a generator made for each). */
  requests(phase: "warm-up" | "measured"): () => autocannon.Request;
  /** With the cache: what the side reports of the instances' /metrics, scraped before and after the measured run. */
  counters?: (before: Map<string, number>[], after: Map<string, number>[]) => Counters;
}

/** Starts {@link INSTANCES} instances, warms them up, measures, and (with `counters`) reads their counters from /metrics; stops them. */
export async function measureSide<Counters>(settings: LoadSettings, plan: SidePlan<Counters>): Promise<Side<Counters>> {
  const instances = await plan.start(INSTANCES);
  try {
    await cannon(instances, plan.requests("warm-up"), settings.warmup, settings.connections);
    const before = await Promise.all(instances.map((p) => scrapeMetrics(p.url)));
    const cpuBefore = cpuSnapshot();
    const result = await cannon(instances, plan.requests("measured"), settings.duration, settings.connections);
    const cpuAfter = cpuBefore && cpuSnapshot();
    const measured: Side<Counters> = {
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      requests: result.requests.total,
    };
    if (cpuBefore && cpuAfter) measured.cpuUsPerRequest = cpuBetween(cpuBefore, cpuAfter, result.requests.total);
    if (plan.counters) measured.cache = plan.counters(before, await Promise.all(instances.map((p) => scrapeMetrics(p.url))));
    return measured;
  } finally {
    await Promise.all(instances.map((p) => p.stop()));
  }
}

/** How much a counter moved between two scrapes of the same instances, summed over them: `moved(name)`. */
export function movedBetween(before: Map<string, number>[], after: Map<string, number>[]): (name: string) => number {
  return (name) => after.reduce((sum, m, i) => sum + (m.get(name) ?? 0) - (before[i]!.get(name) ?? 0), 0);
}

/** A side as a line of the report: requests/s and latency percentiles. */
export function row(name: string, s: Side<unknown>): string {
  const c = s.cpuUsPerRequest;
  const cpu = c ? `   CPU µs/request: instances ${c.instances}, Postgres ${c.postgres}, Redis ${c.redis}, load ${c.loadGenerator}, other ${c.other}` : "";
  return `  ${name.padEnd(14)} ${String(s.requestsPerSecond).padStart(6)} req/s   p50 ${String(s.latencyMs.p50).padStart(3)} ms   p99 ${String(s.latencyMs.p99).padStart(3)} ms${cpu}`;
}

/**
 * The head of results.json: the date, the machine (with the load averages
 * `loadAverageBefore` the run and now), and how each side was loaded.
 */
export function resultsHead(settings: LoadSettings, versions: ServerVersions, loadAverageBefore: number[]) {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: versions.postgres,
      redis: versions.redis,
      loadAverageBefore,
      loadAverageAfter: loadAverage(),
      note: "load generator, both instances, Postgres and Redis on this one machine",
    },
    instances: INSTANCES,
    connections: settings.connections,
    durationSeconds: settings.duration,
    warmupSeconds: settings.warmup,
    seed: settings.seed,
  };
}

/** Writes `results` to `file` as indented JSON, and says so. */
export function writeResults(file: string, results: unknown): void {
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
