/**
 * A Redis Cluster of the test's own: three masters (no replicas) on free
 * loopback ports, joined with `redis-cli --cluster create`, in temp dirs.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "./servers";

const run = promisify(execFile);

/** A running cluster. */
export interface RedisClusterProcess {
  /** The masters, as ioredis startup nodes. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** Runs `redis-cli` with `args` against the cluster (e.g. `--cluster reshard`). */
  cli(...args: string[]): Promise<string>;
  /** Stops every node and removes their dirs. */
  close(): Promise<void>;
}

/** Attempts at starting one node: a free port, or its cluster bus port (+10000), can be taken (by another server, or as a client's local port) before the node binds it. */
const NODE_ATTEMPTS = 5;

/** Starts three cluster-enabled redis-servers and joins them into one cluster; resolves once it is `ok`. On failure, stops what it started. */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ptc-cluster-"));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) c.kill("SIGKILL");
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return await joinCluster(dir, children, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function joinCluster(dir: string, children: ChildProcess[], stop: () => Promise<void>): Promise<RedisClusterProcess> {
  const ping = async (port: number) => {
    const r = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => undefined);
    try {
      await r.connect();
      return await r.call("CLUSTER", "INFO");
    } catch {
      return "";
    } finally {
      r.disconnect();
    }
  };
  /** One node on a free port, answering; another port when the node exits before it answers. */
  const startNode = async (): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      let port = await freePort();
      // A node also binds port + 10000 (the cluster bus), which must be a port too.
      while (port + 10_000 > 65_535) port = await freePort();
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", path.join(dir, `nodes-${port}.conf`)];
      args.push("--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no", "--dir", dir);
      const child = spawn("redis-server", args, { stdio: "ignore" });
      child.on("error", () => undefined);
      children.push(child);
      const deadline = Date.now() + 20_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
        const info = await ping(port);
        if (typeof info === "string" && info.includes("cluster_state")) return port;
        await sleep(50);
      }
      if (child.exitCode === null && child.signalCode === null) throw new Error(`Redis Cluster: the node on port ${port} did not answer within 20 s`);
      if (attempt >= NODE_ATTEMPTS) throw new Error(`Redis Cluster: a node exited at start ${attempt} times (last on port ${port}, code ${child.exitCode})`);
    }
  };
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) ports.push(await startNode());
  const waitFor = async (ok: (info: string) => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(ports.map(ping));
      if (infos.every((i) => typeof i === "string" && ok(i))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} not reached on ports ${ports.join(", ")}`);
      await sleep(50);
    }
  };
  await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
  await waitFor((i) => i.includes("cluster_state:ok") && i.includes("cluster_known_nodes:3"), "cluster_state:ok");
  return {
    nodes: ports.map((port) => ({ host: "127.0.0.1", port })),
    async cli(...args) {
      const { stdout } = await run("redis-cli", args);
      return stdout;
    },
    close: stop,
  };
}
