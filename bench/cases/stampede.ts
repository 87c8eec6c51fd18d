/**
 * Stampede: a cold key read by 1,000 concurrent callers spread over 4 OS
 * processes (250 each), all released at the same moment. Each process is a
 * child (bench/lib/stampede-child.ts, `node --import tsx`, IPC) with its own
 * PrismaClient (adapter-pg through a counting driver adapter) and its own
 * Redis connection. Variants:
 *   - prisma-tiered-cache, default options (in-process single-flight plus a
 *     Redis lease per key);
 *   - prisma-tiered-cache with `lock: false` (in-process single-flight only):
 *     the "no lock" baseline;
 *   - a plain uncached client: every read queries (the floor);
 *   - prisma-extension-redis 5.0.0 from npm, configured as its README shows
 *     (auto-caching, same ttl, STRING storage).
 * The query is a `groupBy` with aggregates over every Post row (a sequential
 * scan of {@link DEFAULTS}.rows rows, a few ms), keyed by a bound that
 * changes every burst, so every burst starts on a cold key in every tier.
 * One untimed warm-up burst per variant opens the connection pools and
 * subscriptions; then {@link DEFAULTS}.rounds rounds, variants in rotated
 * order. Per burst: database queries (SELECTs on Post counted at the driver
 * adapter, summed over the processes) and p50/p99/max of the 1,000 per-call
 * latencies (hrtime, from each call's start to its resolution). Reported:
 * the median over the rounds of each.
 * @module
 */
import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import type { BenchEnv } from "../lib/env";
import { stampedeArgs, type StampedeChildConfig, type StampedeCommand, type StampedeMessage, type StampedeVariant } from "../lib/stampede-protocol";
import type { Check, StampedeBurst, StampedeGroup, StampedeVariantResult } from "../lib/types";

/** Knobs of the stampede group. */
export interface StampedeOptions {
  /** Child processes. */
  processes?: number;
  /** Concurrent reads per process per burst. */
  readsPerProcess?: number;
  /** Timed bursts per variant. */
  rounds?: number;
  /** Post rows the query scans. */
  rows?: number;
  /** Cache ttl (s) of every cached variant. */
  ttl?: number;
}

const DEFAULTS: Required<StampedeOptions> = { processes: 4, readsPerProcess: 250, rounds: 5, rows: 30_000, ttl: 60 };

/** Variants, in display order. */
const VARIANTS: StampedeVariant[] = ["ptc", "ptcNoLock", "uncached", "per"];

const LABELS: Record<StampedeVariant, string> = {
  ptc: "prisma-tiered-cache, default (single-flight + Redis lease)",
  ptcNoLock: "prisma-tiered-cache, `lock: false` (single-flight only): no lock",
  uncached: "no cache (uncached client): every read queries",
  per: "prisma-extension-redis 5.0.0 (auto-cache, ttl 60 s)",
};

/** Most a child may take to start (tsup build, connections). */
const READY_TIMEOUT_MS = 60_000;
/** Most one burst may take. */
const BURST_TIMEOUT_MS = 30_000;
/** The processes are released this long after the command is sent. */
const RELEASE_DELAY_MS = 60;
/** Pause between bursts, for fills, lease releases and pools to settle. */
const PAUSE_MS = 100;

type Done = Extract<StampedeMessage, { type: "done" }>;
type Ready = Extract<StampedeMessage, { type: "ready" }>;

/** One child process and its message queue. */
class Child {
  readonly process: ChildProcess;
  private readonly queue: StampedeMessage[] = [];
  private waiter: ((m: StampedeMessage) => void) | undefined;
  private failure: Error | undefined;
  readonly exited: Promise<number | null>;

  constructor(script: string, config: StampedeChildConfig) {
    this.process = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.exited = new Promise((resolve) => this.process.once("exit", (code) => resolve(code)));
    this.process.on("message", (m: StampedeMessage) => this.push(m));
    this.process.once("exit", (code, signal) => {
      this.failure ??= new Error(`stampede child ${this.process.pid} exited (${signal ?? code})`);
      this.push(undefined);
    });
    this.process.once("error", (e) => {
      this.failure ??= e;
      this.push(undefined);
    });
  }

  private push(m: StampedeMessage | undefined): void {
    if (m) this.queue.push(m);
    const w = this.waiter;
    if (w && this.queue.length) {
      this.waiter = undefined;
      w(this.queue.shift()!);
    } else if (w && this.failure) {
      this.waiter = undefined;
      w({ type: "error", message: this.failure.message });
    }
  }

  /** The next message (an error message if the child failed or exited), or a rejection after `timeoutMs`. */
  next(timeoutMs: number, what: string): Promise<StampedeMessage> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.failure) return Promise.resolve({ type: "error", message: this.failure.message });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`stampede child ${this.process.pid}: no answer to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  send(command: StampedeCommand): void {
    if (this.process.connected) this.process.send(command);
  }

  /** Asks the child to exit; kills it if it has not exited after `graceMs`. Resolves true if it exited by itself. */
  async stop(graceMs = 8_000): Promise<boolean> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return true;
    this.send({ type: "exit" });
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    if ((await Promise.race([this.exited, timer])) !== "timeout") return true;
    this.process.kill("SIGKILL");
    await this.exited;
    return false;
  }
}

/** Median (mean of the two middle values for an even count). */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Nearest-rank percentile `p` (0..1) of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const ms = (v: number) => Math.round(v * 1000) / 1000;

/** Runs the stampede group. Stops every child it started. */
export async function stampede(env: BenchEnv, options: StampedeOptions = {}): Promise<StampedeGroup> {
  const started = Date.now();
  const o = { ...DEFAULTS, ...options };
  const url = await env.database("stampede");
  const ns = env.namespace("stampede");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const children: Child[] = [];
  try {
    await plain.$connect();
    await plain.$executeRawUnsafe(
      `INSERT INTO "Post" ("title", "content", "published", "views") SELECT 'post ' || g, repeat('x', 200), g % 3 = 0, g % 1000 FROM generate_series(1, ${o.rows}) g`,
    );
    await plain.$executeRawUnsafe(`ANALYZE "Post"`);
    // Time of one query alone, for the notes: the stampede window.
    for (let i = 0; i < 5; i++) await plain.post.groupBy(stampedeArgs(-1));
    const single: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = process.hrtime.bigint();
      await plain.post.groupBy(stampedeArgs(-1));
      single.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const singleMs = median(single);

    const script = fileURLToPath(new URL("../lib/stampede-child.ts", import.meta.url));
    const config: StampedeChildConfig = {
      databaseUrl: url,
      redisUrl: env.redisUrl,
      library: process.env.BENCH_SOURCE === "src" ? "src" : "build",
      reads: o.readsPerProcess,
      ttl: o.ttl,
      namespaces: { ptc: `${ns}:ptc`, ptcNoLock: `${ns}:nolock`, per: `${ns}:per` },
    };
    for (let i = 0; i < o.processes; i++) children.push(new Child(script, config));
    const ready = await Promise.all(children.map((c) => c.next(READY_TIMEOUT_MS, "start")));
    const failedStart = ready.find((m) => m.type !== "ready");
    if (failedStart) throw new Error(`a stampede child failed to start: ${failedStart.type === "error" ? failedStart.message : failedStart.type}`);
    const unavailable: Partial<Record<StampedeVariant, string>> = {};
    for (const m of ready as Ready[]) Object.assign(unavailable, m.unavailable);
    const variants = VARIANTS.filter((v) => !unavailable[v]);

    let nextBound = -1000;
    const wrong: string[] = [];
    const failures: string[] = [];
    const runtimeErrors: Partial<Record<StampedeVariant, string>> = {};
    /** One burst of `variant` on a fresh key in every process, verified and summarised. */
    const burst = async (variant: StampedeVariant, what: string): Promise<StampedeBurst> => {
      const bound = nextBound--;
      const at = Date.now() + RELEASE_DELAY_MS;
      for (const c of children) c.send({ type: "burst", variant, bound, at });
      const answers = await Promise.all(children.map((c) => c.next(BURST_TIMEOUT_MS, `a ${variant} burst`)));
      for (const a of answers) {
        if (a.type !== "done") throw new Error(`stampede child failed in a ${variant} burst: ${a.type === "error" ? a.message : a.type}`);
      }
      const done = answers as Done[];
      const all = Float64Array.from(done.flatMap((d) => d.latenciesMs)).sort();
      const starts = done.map((d) => d.startedAt);
      const expected = JSON.stringify(await plain.post.groupBy(stampedeArgs(bound)));
      const distinct = new Set(done.flatMap((d) => d.distinct));
      if (distinct.size !== 1 || !distinct.has(expected))
        wrong.push(`${variant} ${what}: ${distinct.size} distinct result(s)${distinct.has(expected) ? "" : ", none equal to the database's"}`);
      const failed = done.reduce((n, d) => n + d.failed, 0);
      if (failed) {
        failures.push(`${variant} ${what}: ${failed} failed call(s)`);
        runtimeErrors[variant] ??= done.find((d) => d.firstError)?.firstError;
      }
      const counters: Record<string, number> = {};
      for (const d of done) for (const [k, n] of Object.entries(d.counters ?? {})) counters[k] = (counters[k] ?? 0) + n;
      await new Promise((r) => setTimeout(r, PAUSE_MS));
      return {
        dbQueries: done.reduce((n, d) => n + d.selects, 0),
        statements: done.reduce((n, d) => n + d.statements, 0),
        perProcess: done.map((d) => d.selects),
        calls: all.length,
        failed,
        p50Ms: ms(percentile(all, 0.5)),
        p99Ms: ms(percentile(all, 0.99)),
        maxMs: ms(all[all.length - 1]!),
        startSkewMs: ms(Math.max(...starts) - Math.min(...starts)),
        ...(Object.keys(counters).length ? { counters } : {}),
      };
    };

    // Warm-up: pools, subscriptions, JIT. The uncached variant first, so that every pool is full.
    const warmups: Partial<Record<StampedeVariant, StampedeBurst>> = {};
    for (const v of ["uncached" as const, ...variants.filter((v) => v !== "uncached")]) warmups[v] = await burst(v, "warm-up");

    const bursts: Partial<Record<StampedeVariant, StampedeBurst[]>> = Object.fromEntries(variants.map((v) => [v, []]));
    for (let r = 0; r < o.rounds; r++) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const v of order) bursts[v]!.push(await burst(v, `round ${r + 1}`));
    }

    const results = {} as Record<StampedeVariant, StampedeVariantResult>;
    for (const v of VARIANTS) {
      const b = bursts[v];
      if (!b) {
        results[v] = { label: LABELS[v], notRun: unavailable[v] ?? "not run", dbQueries: NaN, p50Ms: NaN, p99Ms: NaN, maxMs: NaN, bursts: [] };
        continue;
      }
      results[v] = {
        label: LABELS[v],
        ...(runtimeErrors[v] ? { notRun: `calls failed: ${runtimeErrors[v]}` } : {}),
        dbQueries: median(b.map((x) => x.dbQueries)),
        p50Ms: ms(median(b.map((x) => x.p50Ms))),
        p99Ms: ms(median(b.map((x) => x.p99Ms))),
        maxMs: ms(median(b.map((x) => x.maxMs))),
        bursts: b,
        ...(warmups[v] ? { warmup: warmups[v] } : {}),
      };
    }

    const stopped = await Promise.all(children.map((c) => c.stop()));
    children.length = 0;

    const total = o.processes * o.readsPerProcess;
    const ptc = bursts.ptc ?? [];
    const timed = Object.values(bursts).flat();
    const cachedSkews = VARIANTS.filter((v) => v !== "uncached").flatMap((v) => (bursts[v] ?? []).map((b) => b.startSkewMs));
    const other = timed.reduce((n, b) => n + b.statements - b.dbQueries, 0);
    const checks: Record<string, Check> = {
      ptcOneQuery: {
        label: "prisma-tiered-cache default: DB queries in each cold burst",
        value: ptc.map((b) => b.dbQueries).join(", "),
        ok: ptc.length === o.rounds && ptc.every((b) => b.dbQueries === 1),
      },
      correct: {
        label: `every call of every burst resolved with the database's result (${total} calls per burst)`,
        value: wrong.length || failures.length ? [...wrong, ...failures].slice(0, 3).join("; ") : "yes",
        ok: wrong.length === 0 && failures.length === 0,
      },
      other: {
        label: "statements other than the query's SELECT during timed bursts",
        value: String(other),
        ok: other === 0,
      },
      skew: {
        label: "spread of the processes' first-call start times, cached variants: median, max over bursts (one query alone takes the time in brackets)",
        value: `${median(cachedSkews).toFixed(1)} ms, ${Math.max(...cachedSkews).toFixed(1)} ms (${singleMs.toFixed(1)} ms)`,
      },
      per: {
        label: "prisma-extension-redis 5.0.0 ran",
        value: unavailable.per ? `no: ${unavailable.per}` : runtimeErrors.per ? `with errors: ${runtimeErrors.per}` : "yes",
        ok: !unavailable.per && !runtimeErrors.per,
      },
      exited: {
        label: "child processes exited when asked",
        value: `${stopped.filter(Boolean).length} of ${stopped.length}`,
        ok: stopped.every(Boolean),
      },
    };

    return {
      kind: "stampede",
      title: `Stampede: a cold key, ${total.toLocaleString("en-US")} concurrent reads over ${o.processes} processes`,
      notes: [
        `${o.processes} child processes, each with its own PrismaClient (adapter-pg, pool of 10) and Redis connection; ${o.readsPerProcess} concurrent identical reads each, released together at a wall-clock instant.`,
        `Query: post.groupBy by published with _count/_sum/_avg/_max over ${o.rows.toLocaleString("en-US")} rows (sequential scan); alone it takes ${singleMs.toFixed(1)} ms (median of 15).`,
        "Each burst uses a new query bound, so its key is cold in every tier; one untimed warm-up burst per variant first.",
        "DB queries: SELECTs on Post counted at the driver adapter in every process, summed. Latency: each call from its start to its resolution (hrtime), over all calls of the burst.",
        `Figures are medians over ${o.rounds} rounds (variants interleaved, order rotated each round).`,
        `${os.cpus().length} CPU cores for the ${o.processes} processes, Postgres and Redis: a process that finds no free core starts late (spread in the checks); the no-lock variants' counts show whether the processes still met in the stampede window.`,
      ],
      variants: results,
      checks,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(2_000)));
    await plain.$disconnect();
  }
}
