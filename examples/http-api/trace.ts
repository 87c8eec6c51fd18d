/**
 * The HTTP API example with OpenTelemetry: one instance in this process,
 * with the SDK registered (a tracer provider, a meter provider and the
 * AsyncLocalStorage context manager), a few requests, then the spans as a
 * tree (the app's server span per request, the cache's spans under it),
 * the OpenTelemetry metrics, and the Prometheus scrape of `/metrics`.
 *
 * ```sh
 * npx tsx examples/http-api/trace.ts
 * ```
 *
 * Starts its own Postgres and Redis like the tests, unless `DATABASE_URL`
 * (a migrated database) and `REDIS_URL` are set.
 * @module
 */
import { randomBytes } from "node:crypto";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import { createMigratedDatabase, dropRunDatabases, ServerScope, startServers } from "../../test/support/servers";
import { startApi } from "./app";

const spans = new InMemorySpanExporter();
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

/** Prints finished spans as a tree: name, duration and attributes. */
function printTree(all: readonly ReadableSpan[]): void {
  const children = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(all.map((s) => s.spanContext().spanId));
  for (const s of all) {
    const parent = s.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), s]);
  }
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      const ms = (s.duration[0] * 1e3 + s.duration[1] / 1e6).toFixed(2);
      const attrs = Object.entries(s.attributes)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(" ");
      console.log(`${"  ".repeat(depth)}${s.name}  ${ms} ms  ${attrs}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
}

const scope = new ServerScope("[http-api trace]");
try {
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    const servers = await startServers(scope, "The HTTP API trace script");
    const runId = randomBytes(3).toString("hex");
    scope.defer(() => dropRunDatabases(servers.postgres.url, runId));
    databaseUrl = await createMigratedDatabase(servers.postgres.url, `ptc_${runId}_http_trace`);
    redisUrl = servers.redis.url;
  }
  const seedClient = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  const user = await seedClient.user.create({ data: { email: `ada-${randomBytes(3).toString("hex")}@example.com`, name: "Ada" } });
  const post = await seedClient.post.create({ data: { title: "Notes", authorId: user.id } });
  await seedClient.$disconnect();

  const api = await startApi({ databaseUrl, redisUrl, port: 0, namespace: `http-trace:${randomBytes(3).toString("hex")}` });
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
    await res.text();
  };
  await request("GET", `/users/${user.id}`); // miss
  await request("GET", `/users/${user.id}`); // L1 hit
  await request("GET", `/posts/${post.id}`); // miss
  await request("PATCH", `/users/${user.id}`, { name: "Ada L." }); // bump
  await request("GET", `/users/${user.id}`); // miss after the write
  console.log("== spans");
  printTree(spans.getFinishedSpans());
  console.log("== OpenTelemetry metrics (prisma_cache.*)");
  await reader.forceFlush();
  for (const rm of exporter.getMetrics())
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) {
        if (!m.descriptor.name.startsWith("prisma_cache")) continue;
        for (const p of m.dataPoints as unknown as { attributes: Record<string, unknown>; value: unknown }[]) {
          const { "db.system": _s, "prisma_cache.namespace": _n, ...rest } = p.attributes;
          const value =
            typeof p.value === "number" ? p.value : `count=${(p.value as { count: number }).count} sum=${(p.value as { sum: number }).sum.toFixed(6)}`;
          console.log(`${m.descriptor.name}${Object.keys(rest).length ? JSON.stringify(rest) : ""} ${value}`);
        }
      }
  console.log("== GET /metrics (Prometheus), non-zero series");
  const text = await (await fetch(`${api.url}/metrics`)).text();
  for (const line of text.split("\n")) if (line.startsWith("prisma_cache_") && !line.endsWith(" 0")) console.log(line);
  await api.close();
} finally {
  await scope.close();
}
