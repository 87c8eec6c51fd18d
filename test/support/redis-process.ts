/**
 * A redis-server of a test's own, which the test can snapshot, kill and
 * restart (from that snapshot), on a free loopback port in a temp dir.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { freePort } from "./servers";

/** A redis-server the test controls. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Writes the data set to the snapshot file now (`SAVE`). */
  snapshot(): Promise<void>;
  /** Kills the server (SIGKILL): what it had not saved is lost. */
  kill(): Promise<void>;
  /** Starts it again on the same port and dir: it loads the last snapshot. */
  start(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server process. */
  signal(sig: "SIGSTOP" | "SIGCONT"): void;
  /** Stops it for good and removes its dir. */
  close(): Promise<void>;
}

/**
 * Starts a redis-server that saves only when asked (`snapshot()`) and loads
 * its snapshot on start; with `replicaOf`, a replica of the server on that port.
 */
export async function startRedisProcess(options: { replicaOf?: number } = {}): Promise<RedisProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ptc-redis-"));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--dbfilename",
    "dump.rdb",
    "--enable-debug-command",
    "local",
    "--repl-diskless-sync-delay",
    "0",
  ];
  if (options.replicaOf !== undefined) args.push("--replicaof", "127.0.0.1", String(options.replicaOf));
  const admin = () => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const start = async () => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    child.on("error", () => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = admin();
      r.on("error", () => undefined);
      try {
        await r.connect();
        if ((await r.ping()) === "PONG") return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}`);
      } finally {
        r.disconnect();
      }
      await sleep(20);
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGCONT");
    c.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    port,
    url,
    async snapshot() {
      const r = admin();
      try {
        await r.connect();
        await r.save();
      } finally {
        r.disconnect();
      }
    },
    kill,
    start,
    signal: (sig) => child?.kill(sig),
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
