/**
 * Isolation: what keying by client and context costs on an L1 hit.
 *   - the L1 hit on a client with no query extensions, as built now and as
 *     built from the commit before isolation (`BENCH_ISOLATION_BASELINE`,
 *     default 3b5b4e4), in the same run: each build in child processes of
 *     its own (bench/lib/l1-child.ts), alternating, so that neither build's
 *     code shapes how V8 compiles the other's hot path;
 *   - a scoped hit: a tenant filter chained after the cache and declared with
 *     `cacheScope("t1", ...)`;
 *   - a hit keyed by the request context: `prismaCache({ scope: () => als.getStore() })`
 *     over a tenant filter that reads the same AsyncLocalStorage store.
 * Cases are interleaved in rounds, like the read-path group. Once an
 * AsyncLocalStorage is in use, Node pays for async hooks on every await in
 * the process, so the cases run in two phases: first those without a context
 * (before the store is ever used), then the context case against a bare-client hit
 * and a calibration measured inside the same context.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { deepStrictEqual } from "node:assert/strict";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "../../generated/prisma/client";
import type { BenchEnv } from "../lib/env";
import { loadReference } from "../lib/library";
import { ratio, Samples, warmUp } from "../lib/measure";
import type { LatencyCase, LatencyGroup } from "../lib/types";

export const ISOLATION_CASES = ["before", "now", "plain", "scoped", "noop", "plainInContext", "context", "noopInContext"] as const;
type IsolationCase = (typeof ISOLATION_CASES)[number];
/** Child processes, one build each. */
const CHILD_CASES = ["before", "now"] as const;
/** Phase 1: no AsyncLocalStorage in use yet. Phase 2: inside `als.run(...)`. */
type InProcessCase = Exclude<IsolationCase, (typeof CHILD_CASES)[number]>;
const PHASES: readonly (readonly InProcessCase[])[] = [
  ["plain", "scoped", "noop"],
  ["plainInContext", "context", "noopInContext"],
];
/** Child processes per build, alternating; each times CHILD_ITERATIONS calls. */
const CHILD_RUNS = 10;
const CHILD_ITERATIONS = 8_000;
const CHILD_WARMUP = 20_000;

const BASELINE = process.env.BENCH_ISOLATION_BASELINE ?? "3b5b4e4";

const LABELS: Record<IsolationCase, string> = {
  before: `child processes: L1 hit, client without extensions, before isolation (${BASELINE})`,
  now: "child processes: L1 hit, client without extensions, now",
  plain: "L1 hit, client without extensions, now",
  scoped: 'L1 hit through cached.$extends(cacheScope("t1", tenantFilter))',
  noop: "calibration: empty call (timer + await overhead)",
  plainInContext: "inside als.run: L1 hit, client without extensions",
  context: "inside als.run: L1 hit, prismaCache({ scope: () => als.getStore() }) over a context tenant filter",
  noopInContext: "inside als.run: calibration (timer + await overhead with async hooks on)",
};

const ITERATIONS = 20_000;
const ROUNDS = 10;
const PLAIN_MAX_OVER_BEFORE = 1.1;
const SCOPED_MAX_OVER_PLAIN = 1.3;

/** A tenant filter on Customer reads, from a fixed tenant or from the context. */
const tenantFilter = (tenant: () => string | undefined) =>
  Prisma.defineExtension({
    name: "tenant-filter",
    query: {
      customer: {
        $allOperations({ args, query }) {
          const a = args as { where?: object };
          return query({ ...a, where: { ...a.where, tenantId: tenant() } } as typeof args);
        },
      },
    },
  });

/** Runs bench/lib/l1-child.ts once and returns what it measured. */
function child(config: { indexUrl: string; databaseUrl: string; id: number; warmup: number; iterations: number }): Promise<{ ns: number[]; l1Hits: number }> {
  const script = fileURLToPath(new URL("../lib/l1-child.ts", import.meta.url));
  const proc = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    let result: { ns: number[]; l1Hits: number } | undefined;
    proc.once("message", (m) => (result = m as typeof result));
    proc.once("error", reject);
    proc.once("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`l1-child exited with ${code}`))));
  });
}

export async function isolation(env: BenchEnv): Promise<LatencyGroup> {
  const started = Date.now();
  const { prismaCache, cacheScope } = env.library;
  const reference = await loadReference(BASELINE);
  const url = await env.database("isolation");
  const plainClient = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const als = new AsyncLocalStorage<string>();
  const clients: Array<{ $disconnect(): Promise<void> }> = [];
  try {
    const customer = await plainClient.customer.create({ data: { tenantId: "t1", email: "c@t1.example", name: "Customer" } });
    const where = { where: { id: customer.id } };
    const expected = await plainClient.customer.findUnique(where);
    const opts = { ttl: 60 };
    const samples = Object.fromEntries(ISOLATION_CASES.map((c) => [c, new Samples()])) as Record<IsolationCase, Samples>;
    // Phase 0: the two builds, each in child processes of its own, alternating.
    let childHits = 0;
    for (let r = 0; r < CHILD_RUNS; r++) {
      for (const c of r % 2 === 0 ? CHILD_CASES : [...CHILD_CASES].reverse()) {
        const indexUrl = c === "before" ? reference.indexUrl : env.library.indexUrl;
        const out = await child({ indexUrl, databaseUrl: url, id: customer.id, warmup: CHILD_WARMUP, iterations: CHILD_ITERATIONS });
        samples[c].add(out.ns);
        childHits += out.l1Hits;
      }
    }
    const now = plainClient.$extends(prismaCache(opts));
    const scoped = now.$extends(
      cacheScope(
        "t1",
        tenantFilter(() => "t1"),
      ),
    );
    const context = plainClient.$extends(tenantFilter(() => als.getStore())).$extends(prismaCache({ ...opts, scope: () => als.getStore() }));
    clients.push(now, context);
    const calls: Record<InProcessCase, () => Promise<unknown>> = {
      plain: () => now.customer.findUnique(where),
      scoped: () => scoped.customer.findUnique(where),
      noop: async () => undefined,
      plainInContext: () => now.customer.findUnique(where),
      context: () => context.customer.findUnique(where),
      noopInContext: async () => undefined,
    };
    const hits = () => now.$cache.stats().hits.l1 + context.$cache.stats().hits.l1;
    let servedHits = 0;
    const measure = async (phase: readonly InProcessCase[]) => {
      // Fills each case's entry (and checks its value) before counting.
      for (const c of phase) if (!c.startsWith("noop")) deepStrictEqual(await calls[c](), expected, `case ${c} returns a different value`);
      const h0 = hits();
      for (const c of phase) await warmUp(calls[c], 5_000);
      for (let r = 0; r < ROUNDS; r++) {
        const order = phase.map((_, i) => phase[(i + r) % phase.length]!);
        for (const c of order) {
          await warmUp(calls[c], 50);
          await samples[c].time(calls[c], ITERATIONS / ROUNDS);
        }
      }
      servedHits += hits() - h0;
    };
    await measure(PHASES[0]!);
    await als.run("t1", () => measure(PHASES[1]!));
    als.disable();
    // plain, scoped, plainInContext and context are L1 hits of the current build: warm-ups + timed calls per case.
    const expectedHits = 4 * (5_000 + ROUNDS * 50 + ITERATIONS);
    const cases = {} as Record<IsolationCase, LatencyCase>;
    for (const c of ISOLATION_CASES) cases[c] = { label: LABELS[c], ...samples[c].summary() };
    const plainOverBefore = ratio(cases.now.medianUs, cases.before.medianUs);
    const scopedOverPlain = ratio(cases.scoped.medianUs, cases.plain.medianUs);
    const contextOverPlain = ratio(cases.context.medianUs, cases.plainInContext.medianUs);
    return {
      kind: "latency",
      title: "Isolation: the cost of keying by client and context on an L1 hit (findUnique by id)",
      notes: [
        `${ROUNDS} rounds of ${ITERATIONS / ROUNDS} calls per case, interleaved (order rotated each round), after 5,000 warm-up calls per case.`,
        `The "before" case is src/ at ${reference.source}, built the same way as the current code; the two child-process cases alternate over ${CHILD_RUNS} processes each (${CHILD_ITERATIONS} timed calls per process, after ${CHILD_WARMUP} warm-up calls).`,
      ],
      cases,
      ratios: {
        plainOverBefore: {
          label: "bare-client L1 hit now ÷ before isolation (child processes, medians)",
          value: plainOverBefore,
          target: `≤ ${PLAIN_MAX_OVER_BEFORE}×`,
          met: plainOverBefore <= PLAIN_MAX_OVER_BEFORE,
        },
        scopedOverPlain: {
          label: "cacheScope hit ÷ bare-client hit (medians)",
          value: scopedOverPlain,
          target: `≤ ${SCOPED_MAX_OVER_PLAIN}×`,
          met: scopedOverPlain <= SCOPED_MAX_OVER_PLAIN,
        },
        contextOverPlain: {
          label: "context-scope hit ÷ bare-client hit, both inside als.run (medians)",
          value: contextOverPlain,
          target: `≤ ${SCOPED_MAX_OVER_PLAIN}×`,
          met: contextOverPlain <= SCOPED_MAX_OVER_PLAIN,
        },
      },
      targets: {},
      checks: {
        served: {
          label: "in-process calls of the current build that its counters count as L1 hits",
          value: `${servedHits} of ${expectedHits}`,
          ok: servedHits === expectedHits,
        },
        childServed: {
          label: "timed calls in child processes that their counters count as L1 hits",
          value: `${childHits} of ${2 * CHILD_RUNS * CHILD_ITERATIONS}`,
          ok: childHits === 2 * CHILD_RUNS * CHILD_ITERATIONS,
        },
      },
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const c of clients) await c.$disconnect().catch(() => undefined);
    await plainClient.$disconnect();
    await reference.dispose();
  }
}
