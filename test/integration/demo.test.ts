/**
 * The quick start (`npm run demo`) runs as a child process, without and with
 * Redis, exits 0 by itself, and prints what its README promises.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisUrl } from "../support/db";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TIMEOUT = 60_000;
const QUERIES = [
  "post.findUnique by id",
  "user.findUnique by email",
  "sample.findUnique compound",
  "post.findMany + include",
  "post.count",
  "post.aggregate",
  "post.groupBy",
];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo with `REDIS_URL` set to `redis` (or unset); kills it if it has not exited by itself in time. */
function runDemo(redis: string | undefined): Promise<Run> {
  const env = { ...process.env };
  delete env.REDIS_URL;
  if (redis) env.REDIS_URL = redis;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/quickstart/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT - 5_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Parses a `hits L1=… L2=…, misses=…, bypasses=…` stats line. */
function stats(stdout: string, client: "main client" | "other client") {
  const m = new RegExp(`${client}:\\s+hits L1=(\\d+) L2=(\\d+), misses=(\\d+), bypasses=(\\d+), fills=\\d+, invalidations=(\\d+), redisErrors=(\\d+)`).exec(
    stdout,
  );
  if (!m) return undefined;
  const [l1, l2, misses, bypasses, invalidations, redisErrors] = m.slice(1).map(Number);
  return { l1, l2, misses, bypasses, invalidations, redisErrors };
}

function expectCommonOutput(run: Run): void {
  const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  expect(run.signal, context).toBeNull(); // not killed: it ended by itself
  expect(run.code, context).toBe(0);
  for (const q of QUERIES) expect(run.stdout, context).toMatch(new RegExp(`^${q.replace(/[.+]/g, "\\$&")} .* L1 \\(memory\\)$`, "m"));
  expect(run.stdout).toContain('before write:      title="Hello, cache"');
  // Read-your-writes: the first read after the update is a miss with the new title, the second an L1 hit.
  expect(run.stdout).toMatch(/1st read: +title="Hello, fresh cache" served by database \(miss\)/);
  expect(run.stdout).toMatch(/2nd read: +title="Hello, fresh cache" served by L1 \(memory\)/);
  const main = stats(run.stdout, "main client");
  expect(main, context).toBeDefined();
  expect(main!.l1).toBeGreaterThan(0);
  expect(main!.misses).toBeGreaterThan(0);
  expect(main!.bypasses).toBeGreaterThan(0);
  expect(main!.invalidations).toBeGreaterThan(0);
}

describe("examples/quickstart (npm run demo)", () => {
  it("runs on PGlite with the in-process tier only", { timeout: TIMEOUT }, async () => {
    const run = await runDemo(undefined);
    expectCommonOutput(run);
    expect(run.stdout).toContain("set REDIS_URL to add Redis");
    expect(run.stdout).not.toContain("other client");
    expect(stats(run.stdout, "main client")!.l2).toBe(0);
  });

  it("adds Redis when REDIS_URL is set, and a second client is served from L2", { timeout: TIMEOUT }, async () => {
    const url = redisUrl();
    const run = await runDemo(url);
    expectCommonOutput(run);
    expect(run.stdout).toMatch(/other client: +title="Hello, fresh cache" served by L2 \(Redis\)/);
    const other = stats(run.stdout, "other client");
    expect(other, run.stdout).toBeDefined();
    expect(other!.l2).toBeGreaterThan(0);
    expect(other!.l1).toBe(0);
    expect(stats(run.stdout, "main client")!.redisErrors).toBe(0);
    expect(other!.redisErrors).toBe(0);
    // The demo removes its own keys before it exits.
    const namespace = /namespace (quickstart:[0-9a-f]+)\)/.exec(run.stdout)?.[1];
    expect(namespace, run.stdout).toBeDefined();
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.keys(`${namespace}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
