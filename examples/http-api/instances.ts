/**
 * Starts instances of the HTTP API as child processes (`main.ts` through
 * tsx), for the load script and the tests. Each child holds an IPC channel
 * to this process and exits when it closes, so an instance never outlives
 * the process that started it, even one killed with SIGKILL.
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LISTENING } from "./app";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** Options of {@link startInstance}: the environment `main.ts` reads. */
export interface InstanceOptions {
  /** `DATABASE_URL`: a migrated database. */
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

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Forks `main.ts` on a free port and resolves once it printed its URL.
 * @throws with its output if it exits or stays silent for 60 s first (it is killed then).
 */
export function startInstance(options: InstanceOptions): Promise<ApiProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl ?? "",
    PORT: "0",
    CACHE_NAMESPACE: options.namespace ?? "",
    CACHE_TTL: options.ttl === undefined ? "" : String(options.ttl),
    CACHE_HEARTBEAT_MS: options.heartbeat === undefined ? "" : String(options.heartbeat),
  };
  const args = options.cache === false ? ["--no-cache"] : [];
  const child = fork(MAIN, args, { cwd: ROOT, env, execArgv: ["--import", "tsx"], stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const killNow = () => child.kill("SIGKILL");
  process.once("exit", killNow);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
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
    const fail = (why: string) => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      killNow();
      reject(new Error(`http-api instance ${why}. Its output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`printed no URL within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    const onData = () => {
      const url = new RegExp(`${LISTENING}(http://127\\.0\\.0\\.1:\\d+)`).exec(output)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      resolve({ url, pid: child.pid!, output: () => output, stop });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? `code ${code}`}) before it listened`);
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (err) => fail(`could not start: ${err.message}`));
  });
}

/**
 * Starts `count` instances in parallel with the same options.
 * @throws if one fails to start; the others are stopped first.
 */
export async function startInstances(count: number, options: InstanceOptions): Promise<ApiProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startInstance(options)));
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
