/**
 * OpenTelemetry, through `@opentelemetry/api` when it is installed (an
 * optional peer, loaded with a dynamic import; without it nothing happens):
 * a span per miss and per bump, parented to the caller's context, and
 * metrics. Counters and gauges are observed from the cache's own counters
 * when a reader collects, so an L1 hit pays nothing for them.
 * @module
 */
import type { Attributes, BatchObservableResult, Histogram, Meter, Span, Tracer } from "@opentelemetry/api";
import type { ReadRequest } from "./engine/request.js";
import type { PathObserver } from "./engine/read-path.js";
import type { Stats } from "./stats.js";
import type { MemoryTier } from "./tiers/memory.js";

type OtelApi = typeof import("@opentelemetry/api");

/** The instrumentation scope of every span and metric. */
export const SCOPE = "prisma-tiered-cache";

/** Loads `@opentelemetry/api`, or resolves to undefined when it is not installed. */
export function loadOpenTelemetry(): Promise<OtelApi | undefined> {
  return import("@opentelemetry/api").then(
    (m): OtelApi => m,
    () => undefined,
  );
}

/** What the metrics are observed from. */
export interface TelemetrySources {
  readonly stats: Stats;
  readonly l1: MemoryTier | undefined;
  /** `db.system`: the database (Prisma's provider name, e.g. `postgresql`). */
  readonly system: string | undefined;
  /** The Redis key namespace (`prisma_cache.namespace`). */
  readonly namespace: string;
}

/** Spans and metrics of one cache. */
export class OpenTelemetry implements PathObserver {
  private readonly tracer: Tracer;
  private readonly l2ReadTime: Histogram;
  private readonly bumpTime: Histogram;
  private readonly busLagTime: Histogram;
  private readonly base: Attributes;
  /** Whether a real meter provider was registered when the cache loaded telemetry. */
  private readonly metered: boolean;

  constructor(
    private readonly api: OtelApi,
    sources: TelemetrySources,
  ) {
    this.tracer = api.trace.getTracer(SCOPE);
    const meter = api.metrics.getMeter(SCOPE);
    // The metrics API has no proxy: a meter taken before a provider is registered stays a no-op for good.
    this.metered = !(meter instanceof (api.createNoopMeter().constructor as abstract new () => Meter));
    this.base = { "db.system": sources.system ?? "unknown", "prisma_cache.namespace": sources.namespace };
    const seconds = (name: string, description: string) => meter.createHistogram(name, { description, unit: "s" });
    this.l2ReadTime = seconds("prisma_cache.l2.read.duration", "Time of one Redis read of an entry and its versions");
    this.bumpTime = seconds("prisma_cache.bump.duration", "Time of one write's bump in Redis");
    this.busLagTime = seconds("prisma_cache.bus.lag", "From another process's publish of a bump (its clock) to its application here");
    observeCounters(meter, sources, this.base);
  }

  /** A span around a miss (the database query and the fill); Prisma's own spans sit under it. */
  miss<T>(req: ReadRequest, run: () => Promise<T>): Promise<T> {
    const { model, operation } = req.counters;
    const attributes = (): Attributes => ({ ...this.base, "db.operation": operation, "db.collection.name": model, "prisma_cache.key": req.l2Id ?? "" });
    return this.inSpan(`prisma_cache.miss ${model}.${operation}`, attributes, run);
  }

  /** A span around a bump in Redis, and its duration. */
  bump<T>(deps: readonly string[], run: () => Promise<T>): Promise<T> {
    const attributes = (): Attributes => ({ ...this.base, "prisma_cache.deps": deps.length });
    if (!this.metered) return this.inSpan("prisma_cache.bump", attributes, run);
    const started = performance.now();
    const done = () => this.bumpTime.record((performance.now() - started) / 1000, this.base);
    return this.inSpan("prisma_cache.bump", attributes, () => run().finally(done));
  }

  /**
   * Runs `run` in a new span, made the active one so that spans started
   * inside sit under it. Without a recording tracer (the API's no-op, or a
   * sampler that drops it), neither the context nor the attributes are made:
   * that would cost every write and miss for nothing.
   */
  private inSpan<T>(name: string, attributes: () => Attributes, run: () => Promise<T>): Promise<T> {
    const { api } = this;
    const span = this.tracer.startSpan(name, { kind: api.SpanKind.INTERNAL });
    if (!span.isRecording()) return run();
    span.setAttributes(attributes());
    return api.context.with(api.trace.setSpan(api.context.active(), span), () => this.ended(span, run()));
  }

  /** Records the time of one L2 read. */
  l2Read(ms: number): void {
    this.l2ReadTime.record(ms / 1000, this.base);
  }

  /** Records the lag of a bump another process sent at `sentAt` (its clock). */
  busLag(sentAt: number): void {
    this.busLagTime.record(Math.max(0, Date.now() - sentAt) / 1000, this.base);
  }

  private ended<T>(span: Span, work: Promise<T>): Promise<T> {
    return work.then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        span.end();
        throw err;
      },
    );
  }
}

/** The counters and gauges, read from the cache's counters when a reader collects. */
function observeCounters(meter: Meter, { stats, l1 }: TelemetrySources, base: Attributes): void {
  const counter = (name: string, description: string, unit: string) => meter.createObservableCounter(name, { description, unit });
  const hits = counter("prisma_cache.hits", "Reads answered from a tier (prisma_cache.tier: l1 or l2)", "{read}");
  const misses = counter("prisma_cache.misses", "Cacheable reads that went to the database", "{read}");
  const refused = counter("prisma_cache.fills.refused", "Fills refused because a dependency moved while the query ran", "{fill}");
  const bypasses = counter("prisma_cache.bypasses", "Reads that skipped the cache", "{read}");
  const coalesced = counter("prisma_cache.coalesced", "Reads that joined another caller's query for the same key", "{read}");
  const entries = meter.createObservableGauge("prisma_cache.l1.entries", { description: "Entries held in this process's L1", unit: "{entry}" });
  const bytes = meter.createObservableGauge("prisma_cache.l1.size", { description: "Approximate bytes held in this process's L1", unit: "By" });
  const feedApplied = counter("prisma_cache.feed.applied", "Changes from the database's log applied by this process's change feed", "{change}");
  const feedLag = meter.createObservableGauge("prisma_cache.feed.lag", { description: "From the commit of the last change applied to its bump", unit: "s" });
  const feedStreaming = meter.createObservableGauge("prisma_cache.feed.streaming", {
    description: "1 while this process consumes the change feed (prisma_cache.feed.status says where it stands)",
    unit: "1",
  });
  meter.addBatchObservableCallback(
    (r: BatchObservableResult) => {
      stats.eachOperation((c) => {
        const a = { ...base, "db.operation": c.operation, "db.collection.name": c.model };
        r.observe(hits, c.l1, { ...a, "prisma_cache.tier": "l1" });
        r.observe(hits, c.l2, { ...a, "prisma_cache.tier": "l2" });
        r.observe(misses, c.misses, a);
        r.observe(refused, c.fillsRefused, a);
        r.observe(bypasses, c.bypasses, a);
      });
      r.observe(coalesced, stats.coalesced, base);
      r.observe(entries, l1?.size ?? 0, base);
      r.observe(bytes, l1?.bytes ?? 0, base);
      const feed = stats.feed;
      if (feed) {
        // The change feed: what this process applied, its last lag, and whether it consumes (1) or not (0).
        r.observe(feedApplied, feed.applied, base);
        if (feed.lagMs !== undefined) r.observe(feedLag, feed.lagMs / 1000, base);
        r.observe(feedStreaming, feed.status === "streaming" ? 1 : 0, { ...base, "prisma_cache.feed.status": feed.status });
      }
    },
    [hits, misses, refused, bypasses, coalesced, entries, bytes, feedApplied, feedLag, feedStreaming],
  );
}
