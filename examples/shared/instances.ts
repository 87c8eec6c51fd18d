/**
 * Instances of an HTTP example as child processes, both ends:
 *
 * - {@link startInstance} (the load scripts and the tests) forks an
 *   example's `main.ts` through tsx, with the options in its environment,
 *   and waits for the line it prints once it serves;
 * - {@link runInstance} (that `main.ts`) reads the environment, starts the
 *   example's API and prints that line.
 *
 * Each child holds an IPC channel to the process that started it and exits
 * when it closes, so an instance never outlives that process, even one
 * killed with SIGKILL. {@link scrapeMetrics} reads an instance's counters.
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ApiOptions, RunningApi } from "./http";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** An example's instance program. */
export interface InstanceProgram {
  /** The example's name (`http-api`): what its line starts with, and its logs' prefix. */
  name: string;
  /** Path of its `main.ts`, which calls {@link runInstance}. */
  main: string;
}

/** Options of {@link startInstance}: the environment `main.ts` reads. */
export interface InstanceOptions {
  /** `DATABASE_URL`: a database with the example's migrations applied. */
  databaseUrl: string;
  /** `REDIS_URL`: required with the cache. */
  redisUrl?: string;
  /**
   * `false` passes `--no-cache`.
   * @default true
   */
  cache?: boolean;
  /** `CACHE_NAMESPACE`. */
  namespace?: string;
  /** `CACHE_TTL` (s). */
  ttl?: number;
  /** `CACHE_HEARTBEAT_MS`. */
  heartbeat?: number;
}

/** An instance running in a child process. */
export interface ApiProcess {
  /** `http://127.0.0.1:<port>`, as it printed. */
  url: string;
  /** The child's process id. */
  pid: number;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** Sends SIGTERM and waits until it exits (SIGKILL after 10 s). Safe to call twice. */
  stop(): Promise<void>;
}

/** What an instance prints once it serves, followed by its URL. */
const listening = (name: string) => `${name} listening on `;

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Forks `program.main` on a free port and resolves once it printed its URL.
 * @throws with its output if it exits or stays silent for 60 s first (it is killed then).
 */
export function startInstance(program: InstanceProgram, options: InstanceOptions): Promise<ApiProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl ?? "",
    PORT: "0",
    CACHE_NAMESPACE: options.namespace ?? "",
    CACHE_TTL: options.ttl === undefined ? "" : String(options.ttl),
    CACHE_HEARTBEAT_MS: options.heartbeat === undefined ? "" : String(options.heartbeat),
  };
  const child = fork(program.main, options.cache === false ? ["--no-cache"] : [], {
    cwd: ROOT,
    env,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const killNow = () => child.kill("SIGKILL");
  process.once("exit", killNow);
  let output = "";
  const collect = (d: Buffer) => (output += d.toString());
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void gone.then(() => process.off("exit", killNow));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exited(child)) {
        child.kill("SIGTERM");
        const timer = setTimeout(killNow, STOP_TIMEOUT_MS);
        await gone;
        clearTimeout(timer);
      }
      if (child.connected) child.disconnect();
    })());

  return new Promise<ApiProcess>((resolve, reject) => {
    const timer = setTimeout(() => fail(`printed no URL within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    const settle = () => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
    };
    const fail = (why: string) => {
      settle();
      killNow();
      reject(new Error(`${program.name} instance ${why}. Its output:\n${output}`));
    };
    const onData = () => {
      const url = new RegExp(`${listening(program.name)}(http://127\\.0\\.0\\.1:\\d+)`).exec(output)?.[1];
      if (!url) return;
      settle();
      resolve({ url, pid: child.pid!, output: () => output, stop });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? `code ${code}`}) before it listened`);
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (err) => fail(`could not start: ${err.message}`));
  });
}

/**
 * Starts `count` instances of `program` in parallel with the same options.
 * @throws if one fails to start; the others are stopped first.
 */
export async function startInstances(program: InstanceProgram, count: number, options: InstanceOptions): Promise<ApiProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startInstance(program, options)));
  const failed = started.find((s) => s.status === "rejected");
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (!failed) return running;
  await Promise.all(running.map((p) => p.stop()));
  throw failed.reason;
}

/**
 * Scrapes `GET <url>/metrics` and parses the Prometheus text format into
 * sample values keyed by name and labels as printed, e.g.
 * `prisma_cache_hits_total{tier="l1"}` or `prisma_cache_misses_total`.
 * @throws if the answer is not 200.
 */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}/metrics answered ${res.status}: ${text}`);
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/** The number in env var `name`, or undefined if unset. */
function numberFrom(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * The body of an example's `main.ts`: starts its API with `start` from the
 * environment (`DATABASE_URL`, `REDIS_URL`, `PORT`, `CACHE_NAMESPACE`,
 * `CACHE_TTL`, `CACHE_HEARTBEAT_MS`, and `--no-cache` among the arguments),
 * then prints `<name> listening on http://127.0.0.1:<port> (cache on|off)`.
 * Closes it and exits on SIGINT or SIGTERM, and, when started with an IPC
 * channel (`child_process.fork`), as soon as that channel closes; before it
 * listens, exits at once (code 1).
 * @throws if `DATABASE_URL` is not set, a number is malformed, or `start` fails.
 */
export async function runInstance(name: string, start: (options: ApiOptions) => Promise<RunningApi>): Promise<void> {
  let api: RunningApi | undefined;
  let stopping = false;
  /** Closes the instance and exits; before it listens, exits at once. */
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (!api) process.exit(1);
    api.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[${name}] close failed:`, err);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (process.connected) process.once("disconnect", stop);

  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is not set");
  api = await start({
    databaseUrl,
    redisUrl: process.env.REDIS_URL || undefined,
    port: numberFrom("PORT") ?? 0,
    cache: !process.argv.includes("--no-cache"),
    namespace: process.env.CACHE_NAMESPACE || undefined,
    ttl: numberFrom("CACHE_TTL"),
    heartbeat: numberFrom("CACHE_HEARTBEAT_MS"),
  });
  console.log(`${listening(name)}${api.url} (cache ${api.cached ? "on" : "off"})`);
}
