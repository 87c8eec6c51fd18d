/**
 * Observability: what telemetry and the staleness audit cost.
 *   - the L1 hit with `telemetry: false`, and with telemetry on while
 *     `@opentelemetry/api` has no provider (its no-op), interleaved;
 *   - then, once the OpenTelemetry SDK is registered globally (a tracer
 *     provider, a meter provider with a reader, and the AsyncLocalStorage
 *     context manager, as an app does), the same two, interleaved again: both
 *     now pay for the context manager's async hooks, which the SDK costs the
 *     whole process, and the ratio is what the cache adds on top;
 *   - the audit: one seeded workload of reads and writes, run with the audit
 *     off and at `sampleRate: 0.01` (the share of hits read again, at most
 *     `maxPerSecond` a second), counting the database reads each makes.
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import { mulberry32 } from "../../test/support/prng";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples, warmUp } from "../lib/measure";
import type { LatencyCase, LatencyGroup } from "../lib/types";

const CASES = ["off", "noop", "sdkOff", "sdk", "noopCall"] as const;
type Case = (typeof CASES)[number];
const PHASES: readonly (readonly Case[])[] = [
  ["off", "noop", "noopCall"],
  ["sdkOff", "sdk"],
];
const LABELS: Record<Case, string> = {
  off: "L1 hit, telemetry: false",
  noop: "L1 hit, telemetry on, @opentelemetry/api without a provider (no-op)",
  sdkOff: "SDK registered: L1 hit, telemetry: false",
  sdk: "SDK registered: L1 hit, telemetry on (real tracer and meter)",
  noopCall: "calibration: empty call (timer + await overhead)",
};
const ITERATIONS = 20_000;
const ROUNDS = 10;
const NOOP_MAX = 1.1;
const SDK_MAX = 1.5;
const AUDIT_RATE = 0.01;
/** `audit.maxPerSecond`'s default: the most audit reads per second the audit adds. */
const AUDIT_MAX_PER_SECOND = 10;

export async function observability(env: BenchEnv): Promise<LatencyGroup> {
  const started = Date.now();
  const { prismaCache } = env.library;
  const url = await env.database("observability");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  try {
    const user = await plain.user.create({ data: { email: "otel@example.com", name: "Otel" } });
    const where = { where: { id: user.id } };
    const expected = await plain.user.findUnique(where);
    const off = plain.$extends(prismaCache({ ttl: 60, telemetry: false }));
    const on = plain.$extends(prismaCache({ ttl: 60 }));
    await on.$cache.ready();
    const calls: Record<Case, () => Promise<unknown>> = {
      off: () => off.user.findUnique(where),
      noop: () => on.user.findUnique(where),
      sdkOff: () => off.user.findUnique(where),
      sdk: () => on.user.findUnique(where),
      noopCall: async () => undefined,
    };
    const samples = Object.fromEntries(CASES.map((c) => [c, new Samples()])) as Record<Case, Samples>;
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    let sdkClient: typeof on | undefined;
    for (const [i, phase] of PHASES.entries()) {
      if (i === 1) {
        context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
        trace.setGlobalTracerProvider(tracerProvider);
        metrics.setGlobalMeterProvider(meterProvider);
        // A cache made now gets the real tracer and meter.
        sdkClient = plain.$extends(prismaCache({ ttl: 60 }));
        await sdkClient.$cache.ready();
        calls.sdk = () => sdkClient!.user.findUnique(where);
      }
      for (const c of phase) if (c !== "noopCall") deepStrictEqual(await calls[c](), expected, `case ${c} returns a different value`);
      for (const c of phase) await warmUp(calls[c], 5_000);
      for (let r = 0; r < ROUNDS; r++) {
        const order = phase.map((_, k) => phase[(k + r) % phase.length]!);
        for (const c of order) {
          await warmUp(calls[c], 50);
          await samples[c].time(calls[c], ITERATIONS / ROUNDS);
        }
      }
    }
    // The real SDK saw the cache: its miss made a span, and its counters are exported.
    await reader.forceFlush();
    const missSpans = spans.getFinishedSpans().filter((s) => s.name.startsWith("prisma_cache.miss")).length;
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();

    // The audit: the same seeded workload with the audit off and at AUDIT_RATE.
    const posts = await Promise.all(Array.from({ length: 50 }, (_, i) => plain.post.create({ data: { title: `p${i}`, authorId: user.id, views: i } })));
    const workload = async (client: typeof on) => {
      const began = performance.now();
      const rand = mulberry32(7);
      for (let i = 0; i < 20_000; i++) {
        const p = posts[Math.floor(rand() ** 2 * posts.length)]!;
        if (rand() < 0.02) await client.post.update({ where: { id: p.id }, data: { views: { increment: 1 } } });
        else await client.post.findUnique({ where: { id: p.id } });
      }
      const seconds = (performance.now() - began) / 1000;
      await new Promise((r) => setTimeout(r, 200)); // the last audits finish
      return { ...client.$cache.stats(), seconds };
    };
    const unaudited = await workload(plain.$extends(prismaCache({ ttl: 60, telemetry: false })));
    const audited = await workload(plain.$extends(prismaCache({ ttl: 60, telemetry: false, audit: { sampleRate: AUDIT_RATE } })));
    const dbReadsOff = unaudited.misses;
    const dbReadsOn = audited.misses + audited.audits;
    const hits = audited.hits.l1 + audited.hits.l2;
    // The audit re-reads a share of the hits (sampleRate); at most maxPerSecond start in any second (a sliding window).
    const rateBound = AUDIT_MAX_PER_SECOND * Math.max(1, Math.ceil(audited.seconds));
    const auditBound = Math.min(Math.ceil(hits * AUDIT_RATE), rateBound);
    const cases = {} as Record<Case, LatencyCase>;
    for (const c of CASES) cases[c] = { label: LABELS[c], ...samples[c].summary() };
    const noopOver = ratio(cases.noop.medianUs, cases.off.medianUs);
    const sdkOver = ratio(cases.sdk.medianUs, cases.sdkOff.medianUs);
    return {
      kind: "latency",
      title: "Observability: telemetry on an L1 hit, and the staleness audit's database reads",
      notes: [
        `${ROUNDS} rounds per phase, cases interleaved (order rotated each round); ${ITERATIONS} timed calls per case.`,
        "Phase 1: @opentelemetry/api installed, no SDK registered. Phase 2: BasicTracerProvider, MeterProvider with a reader, AsyncLocalStorageContextManager registered globally.",
        `Audit: 20,000 operations (2% updates, reads skewed to few of 50 posts, seeded), once with the audit off and once at sampleRate ${AUDIT_RATE} (the share of hits read again), maxPerSecond at its default; database reads = misses (+ audit reads).`,
      ],
      cases,
      ratios: {
        noopVsOff: {
          label: "L1 hit with telemetry on (no-op API) over telemetry: false (medians)",
          value: noopOver,
          target: `≤ ${NOOP_MAX}×`,
          met: noopOver <= NOOP_MAX,
        },
        sdkVsOff: {
          label: "L1 hit with a real SDK over telemetry: false, both with the SDK registered (medians)",
          value: sdkOver,
          target: `≤ ${SDK_MAX}×`,
          met: sdkOver <= SDK_MAX,
        },
        sdkVsPhase1: {
          label: "L1 hit, telemetry: false, with the SDK registered over without (what the SDK's context manager costs the process)",
          value: ratio(cases.sdkOff.medianUs, cases.off.medianUs),
        },
      },
      targets: {
        auditRate: {
          label: `audit reads at sampleRate ${AUDIT_RATE} in ${audited.seconds.toFixed(1)} s (database reads ${dbReadsOff} → ${dbReadsOn})`,
          value: audited.audits,
          unit: "reads",
          target: `≤ ${rateBound} reads (maxPerSecond in each second of the run)`,
          met: audited.audits <= rateBound,
        },
      },
      checks: {
        spans: { label: "miss spans the real SDK received", value: String(missSpans), ok: missSpans >= 1 },
        staleDetected: {
          label: "stale values the audit detected (none: every write went through the cache)",
          value: String(audited.staleDetected),
          ok: audited.staleDetected === 0,
        },
        audits: {
          label: `hits audited: some, and at most min(sampleRate × ${hits} hits, the rate bound) = ${auditBound}`,
          value: String(audited.audits),
          ok: audited.audits > 0 && audited.audits <= auditBound,
        },
      },
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await plain.$disconnect();
  }
}
