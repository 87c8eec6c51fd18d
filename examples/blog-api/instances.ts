/**
 * Starts instances of the blog API as child processes (`main.ts` through
 * tsx), for the load script and the test, as `../http-api/instances.ts`
 * does for the HTTP API: each child holds an IPC channel to this process
 * and exits when it closes, so an instance never outlives the process that
 * started it. Their counters are read with that file's `scrapeMetrics`.
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ApiProcess } from "../http-api/instances";
import { LISTENING } from "./app";

export type { ApiProcess } from "../http-api/instances";
export { scrapeMetrics } from "../http-api/instances";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** Options of {@link startBlogInstance}: the environment `main.ts` reads. */
export interface BlogInstanceOptions {
  /** `DATABASE_URL`: a database with the blog migrations applied. */
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

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Forks `main.ts` on a free port and resolves once it printed its URL.
 * @throws with its output if it exits or stays silent for 60 s first (it is killed then).
 */
export function startBlogInstance(options: BlogInstanceOptions): Promise<ApiProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl ?? "",
    PORT: "0",
    CACHE_NAMESPACE: options.namespace ?? "",
    CACHE_TTL: options.ttl === undefined ? "" : String(options.ttl),
    CACHE_HEARTBEAT_MS: options.heartbeat === undefined ? "" : String(options.heartbeat),
  };
  const child = fork(MAIN, options.cache === false ? ["--no-cache"] : [], {
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
      reject(new Error(`blog-api instance ${why}. Its output:\n${output}`));
    };
    const onData = () => {
      const url = new RegExp(`${LISTENING}(http://127\\.0\\.0\\.1:\\d+)`).exec(output)?.[1];
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
 * Starts `count` instances in parallel with the same options.
 * @throws if one fails to start; the others are stopped first.
 */
export async function startBlogInstances(count: number, options: BlogInstanceOptions): Promise<ApiProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startBlogInstance(options)));
  const failed = started.find((s) => s.status === "rejected");
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (!failed) return running;
  await Promise.all(running.map((p) => p.stop()));
  throw failed.reason;
}
