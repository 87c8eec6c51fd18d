/**
 * OpenTelemetry spans and metrics, with the SDK's in-memory exporters, on
 * real Postgres and Redis. The SDK is registered globally, as an app does.
 */
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { cacheNeutral } from "../../src/index";
import { provider, uniqueNamespace } from "../support/db";
import { useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
});
afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  trace.disable();
  metrics.disable();
  context.disable();
});
beforeEach(() => spans.reset());

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

/** The data points of metric `name` collected now. */
async function points(name: string) {
  metricExporter.reset();
  await reader.forceFlush();
  const all = metricExporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
  const found = all.filter((m) => m.descriptor.name === name);
  return found.flatMap((m) => m.dataPoints as unknown as { attributes: Record<string, unknown>; value: unknown }[]);
}

describe("OpenTelemetry", () => {
  it("makes one span per miss, under the caller's span, with Prisma's query under it; none for a hit", async () => {
    const seen: (string | undefined)[] = [];
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis() }, namespace);
    // A query extension beneath the cache (declared neutral) sees the context Prisma's own spans would start in.
    const spy = Prisma.defineExtension({
      name: "active-span",
      query: {
        $allModels: {
          $allOperations({ args, query }) {
            seen.push(trace.getActiveSpan()?.spanContext().spanId);
            return query(args);
          },
        },
      },
    });
    const traced = c.prisma.$extends(cacheNeutral(spy));
    await traced.$cache.ready();
    const tracer = trace.getTracer("app");
    const where = { where: { id: t.ids.users.alice } };
    const requestId = await tracer.startActiveSpan("GET /users/:id", async (span) => {
      await traced.user.findUnique(where);
      await traced.user.findUnique(where);
      span.end();
      return span.spanContext().spanId;
    });
    const misses = spans.getFinishedSpans().filter((s) => s.name.startsWith("prisma_cache.miss"));
    expect(misses).toHaveLength(1);
    const miss = misses[0]!;
    expect(miss.name).toBe("prisma_cache.miss User.findUnique");
    expect(parentOf(miss)).toBe(requestId);
    expect(miss.attributes).toMatchObject({
      "db.system": provider(),
      "db.operation": "findUnique",
      "db.collection.name": "User",
      "prisma_cache.namespace": namespace,
    });
    expect(miss.attributes["prisma_cache.key"]).toMatch(/^[\w-]{16,}$/);
    // The database query ran inside the miss span.
    expect(seen.filter((id) => id === miss.spanContext().spanId).length).toBeGreaterThanOrEqual(1);
  });

  it("makes one span per bump, and records its duration", async () => {
    const c = t.cached({ redis: t.redis() });
    await c.prisma.$cache.ready();
    await c.prisma.tag.update({ where: { id: t.ids.tags.news }, data: { name: "news" } });
    const bumps = spans.getFinishedSpans().filter((s) => s.name === "prisma_cache.bump");
    expect(bumps).toHaveLength(1);
    expect(bumps[0]!.attributes["db.system"]).toBe(provider());
    expect(Number(bumps[0]!.attributes["prisma_cache.deps"])).toBeGreaterThan(0);
    const durations = await points("prisma_cache.bump.duration");
    expect(durations.some((p) => (p.value as { count: number }).count >= 1)).toBe(true);
  });

  it("reports hits by tier, misses, refused fills, coalesced reads, L2 read times, bus lag and L1 size", async () => {
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis() }, namespace);
    // Another process on the same namespace, without telemetry: its bumps arrive on the bus.
    const other = t.cached({ redis: t.redis(), telemetry: false }, namespace);
    await Promise.all([c.prisma.$cache.ready(), other.prisma.$cache.ready()]);
    const where = { where: { id: t.ids.posts.hello } };
    await c.prisma.post.findUnique(where);
    await c.prisma.post.findUnique(where);
    await c.prisma.post.findUnique(where);
    await Promise.all([c.prisma.post.count(), c.prisma.post.count()]);
    await other.prisma.post.update({ where: { id: t.ids.posts.hello }, data: { views: { increment: 1 } } });
    // Two messages: the write's marks, then (on the next turn of the writer's event loop) their release.
    await new Promise((resolve) => setImmediate(resolve));
    await c.prisma.$cache.delivered(other.prisma.$cache.lastPublished()!);

    const mine = (p: { attributes: Record<string, unknown> }) => p.attributes["prisma_cache.namespace"] === namespace;
    const hits = (await points("prisma_cache.hits")).filter(mine);
    const findUnique = (tier: string) =>
      hits.find(
        (p) => p.attributes["db.collection.name"] === "Post" && p.attributes["db.operation"] === "findUnique" && p.attributes["prisma_cache.tier"] === tier,
      )?.value;
    expect(findUnique("l1")).toBe(2);
    expect(findUnique("l2")).toBe(0);
    const misses = (await points("prisma_cache.misses")).filter(mine);
    expect(misses.find((p) => p.attributes["db.operation"] === "findUnique")?.value).toBe(1);
    expect(misses.find((p) => p.attributes["db.operation"] === "count")?.value).toBe(1);
    expect((await points("prisma_cache.coalesced")).filter(mine)[0]?.value).toBe(1);
    expect((await points("prisma_cache.fills.refused")).filter(mine).every((p) => p.value === 0)).toBe(true);
    const l2Reads = (await points("prisma_cache.l2.read.duration")).filter(mine);
    expect((l2Reads[0]!.value as { count: number }).count).toBeGreaterThanOrEqual(2);
    const lag = (await points("prisma_cache.bus.lag")).filter(mine);
    expect((lag[0]!.value as { count: number; min: number }).count).toBe(2);
    expect((lag[0]!.value as { min: number }).min).toBeLessThan(5);
    expect((await points("prisma_cache.l1.entries")).filter(mine)[0]?.value).toBe(2);
    expect(Number((await points("prisma_cache.l1.size")).filter(mine)[0]?.value)).toBeGreaterThan(0);
  });

  it("reports the change feed: whether this process consumes it, and what it applied", async () => {
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), changeFeed: { url: t.url(), lease: 600 } }, namespace);
    for (let i = 0; c.prisma.$cache.stats().feed?.status !== "streaming"; i++) {
      if (i > 500) throw new Error(`the change feed did not start: ${JSON.stringify(c.prisma.$cache.stats().feed)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const mine = (p: { attributes: Record<string, unknown> }) => p.attributes["prisma_cache.namespace"] === namespace;
    const streaming = (await points("prisma_cache.feed.streaming")).filter(mine);
    expect(streaming.map((p) => [p.attributes["prisma_cache.feed.status"], p.value])).toEqual([["streaming", 1]]);
    expect((await points("prisma_cache.feed.applied")).filter(mine)[0]?.value).toBe(c.prisma.$cache.stats().feed?.applied);
    await c.prisma.$disconnect();
    const stopped = (await points("prisma_cache.feed.streaming")).filter(mine);
    expect(stopped.map((p) => [p.attributes["prisma_cache.feed.status"], p.value])).toContainEqual(["stopped", 0]);
  });

  it("does nothing with telemetry: false", async () => {
    const namespace = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), telemetry: false }, namespace);
    await c.prisma.$cache.ready();
    await c.prisma.user.findMany({ take: 1 });
    await c.prisma.tag.update({ where: { id: t.ids.tags.tech }, data: { name: "tech" } });
    expect(spans.getFinishedSpans().filter((s) => s.name.startsWith("prisma_cache"))).toHaveLength(0);
    expect((await points("prisma_cache.misses")).filter((p) => p.attributes["prisma_cache.namespace"] === namespace)).toHaveLength(0);
  });
});
