/**
 * `npm run bench [-- group...]`: starts a private Postgres and Redis (as the
 * integration tests do), runs the benchmark groups, writes
 * bench/results.json (one entry per group under `groups`; groups not run
 * this time are kept from the previous file), prints the tables, and
 * regenerates the chart (bench/chart.ts) and the tables of
 * docs/benchmarks.md (bench/report.ts). Stops everything it started before
 * exiting.
 *
 * Adding a benchmark: write `bench/cases/<name>.ts` exporting
 * `(env: BenchEnv) => Promise<GroupResult>` and register it in {@link GROUPS}.
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { changeFeed } from "./cases/change-feed";
import { clients } from "./cases/clients";
import { hitRatio } from "./cases/hit-ratio";
import { invalidationCost } from "./cases/invalidation-cost";
import { isolation } from "./cases/isolation";
import { listPrecision } from "./cases/list-precision";
import { readPath } from "./cases/read-path";
import { productionRedis } from "./cases/production-redis";
import { observability } from "./cases/observability";
import { stampede } from "./cases/stampede";
import { warmStart } from "./cases/warm-start";
import { writeChart } from "./chart";
import { startBenchEnv, type BenchEnv } from "./lib/env";
import type { BenchResults, GroupResult } from "./lib/types";
import { renderText, report, RESULTS_PATH } from "./report";

/** Every benchmark group, by the name used in results.json and on the command line. */
const GROUPS: Record<string, (env: BenchEnv) => Promise<GroupResult>> = {
  "read-path": (env) => readPath(env),
  "invalidation-cost": (env) => invalidationCost(env),
  "hit-ratio": (env) => hitRatio(env),
  "list-precision": (env) => listPrecision(env),
  stampede: (env) => stampede(env),
  isolation: (env) => isolation(env),
  "production-redis": (env) => productionRedis(env),
  clients: (env) => clients(env),
  observability: (env) => observability(env),
  "change-feed": (env) => changeFeed(env),
  "warm-start": (env) => warmStart(env),
};

/** Hard limit: a hung run is stopped (servers are killed by the exit hook). */
const WATCHDOG_MS = 10 * 60_000;

function previousGroups(): Record<string, GroupResult> {
  if (!existsSync(RESULTS_PATH)) return {};
  try {
    return (JSON.parse(readFileSync(RESULTS_PATH, "utf8")) as BenchResults).groups ?? {};
  } catch {
    return {};
  }
}

/** `groups` in the order of {@link GROUPS} (then any others the previous file had), so the tables keep one order. */
function inGroupOrder(groups: Record<string, GroupResult>): Record<string, GroupResult> {
  const out: Record<string, GroupResult> = {};
  for (const name of Object.keys(GROUPS)) if (groups[name]) out[name] = groups[name];
  for (const [name, g] of Object.entries(groups)) if (!(name in out)) out[name] = g;
  return out;
}

/** `HEAD`'s short hash, with `+dirty` when src/ has uncommitted changes. */
function revision(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--", "src") ? "+dirty" : "");
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((g) => !(g in GROUPS));
  if (unknown.length) throw new Error(`unknown benchmark group(s) ${unknown.join(", ")}; known: ${Object.keys(GROUPS).join(", ")}`);
  const names = requested.length ? requested : Object.keys(GROUPS);

  const watchdog = setTimeout(() => {
    console.error(`[bench] still running after ${WATCHDOG_MS / 60_000} min: giving up`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const env = await startBenchEnv();
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`[bench] ${signal}: stopping servers`);
    void env.close().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let results: BenchResults;
  try {
    console.log(`[bench] postgres: ${env.servers.postgres.source}; redis: ${env.servers.redis.source}; library: ${env.library.source}`);
    const groups = previousGroups();
    for (const name of names) {
      console.log(`[bench] ${name} ...`);
      groups[name] = await GROUPS[name]!(env);
    }
    const cpus = os.cpus();
    results = {
      date: new Date().toISOString(),
      machine: { cpu: cpus[0]?.model.trim() ?? "unknown", cores: cpus.length, node: process.version, os: `${os.type()} ${os.release()} ${os.arch()}` },
      servers: { postgres: env.servers.postgres.source, redis: env.servers.redis.source },
      library: env.library.source,
      revision: revision(),
      groups: inGroupOrder(groups),
    };
  } finally {
    await env.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  writeFileSync(RESULTS_PATH, JSON.stringify(results, null, 2) + "\n");
  writeChart();
  console.log(`\n${renderText(results)}\n`);
  report();
}

main().then(
  () => {
    // Exit even if a library left a handle open.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  },
  (err) => {
    console.error("[bench] failed:", err);
    process.exit(1);
  },
);
