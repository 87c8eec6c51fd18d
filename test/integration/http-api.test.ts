/**
 * The HTTP API example (examples/http-api) as two instances, A and B: two
 * OS processes on the test Postgres and Redis, in one namespace. A write
 * through A is read through B at once although B held the row in L1, and
 * GET /metrics counts exactly the hits and misses the reads made.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AFTER_HEADER, BUMP_HEADER } from "../../examples/http-api/app";
import { type ApiProcess, scrapeMetrics, startInstance, startInstances } from "../../examples/http-api/instances";
import { redisUrl, uniqueNamespace } from "../support/db";
import { useSeededDatabase } from "../support/harness";
import { CLIENT_PACKAGES, clientKind } from "../support/redis-client";

const t = useSeededDatabase();
const started: ApiProcess[] = [];
let a: ApiProcess;
let b: ApiProcess;

beforeAll(async () => {
  // The instances' Redis client: the run's family.
  process.env.REDIS_CLIENT = CLIENT_PACKAGES[clientKind()];
  // A heartbeat longer than any event-loop stall of a loaded machine: a
  // silent-bus verdict would send L1 reads to Redis and change the tier counts.
  const pair = await startInstances(2, { databaseUrl: t.url(), redisUrl: redisUrl(), namespace: uniqueNamespace("http-api"), heartbeat: 30_000 });
  started.push(...pair);
  [a, b] = pair as [ApiProcess, ApiProcess];
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

/** The cache counters an instance's /metrics shows. */
async function counters(p: ApiProcess) {
  const m = await scrapeMetrics(p.url);
  const value = (name: string) => {
    const v = m.get(name);
    if (v === undefined) throw new Error(`no ${name} on ${p.url}/metrics: ${[...m.keys()].join(", ")}`);
    return v;
  };
  const bypasses = [...m].filter(([k]) => k.startsWith("prisma_cache_bypasses_total{")).reduce((sum, [, v]) => sum + v, 0);
  return {
    l1: value('prisma_cache_hits_total{tier="l1"}'),
    l2: value('prisma_cache_hits_total{tier="l2"}'),
    misses: value("prisma_cache_misses_total"),
    fills: value("prisma_cache_fills_total"),
    bypasses,
    remoteBumps: value("prisma_cache_remote_bumps_total"),
  };
}
type Counters = Awaited<ReturnType<typeof counters>>;
const moved = (after: Counters, before: Counters) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof Counters]])) as Counters;

/**
 * The per-operation counters an instance's /metrics shows, keyed
 * `"<metric> <Model>.<operation>[ <tier>]"`, e.g. `"hits User.findUnique l1"`.
 */
async function operations(p: ApiProcess): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [sample, value] of await scrapeMetrics(p.url)) {
    const m = /^prisma_cache_operation_(\w+)_total\{(.*)\}$/.exec(sample);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.set(`${m[1]} ${labels.model}.${labels.operation}${labels.tier ? ` ${labels.tier}` : ""}`, value);
  }
  return out;
}
/** The per-operation counters that moved, by how much. */
const movedBy = (after: Map<string, number>, before: Map<string, number>) =>
  Object.fromEntries([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => d !== 0));

/** GETs `path`, expecting `status`; returns the JSON body. */
async function get(p: ApiProcess, path: string, status = 200, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(p.url + path, { headers });
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(status);
  return body;
}

describe("examples/http-api on two instances", () => {
  it("a write through A is read through B at once, although B served the row from its L1 before", async () => {
    const path = `/users/${t.ids.users.bob}`;
    const m0 = await counters(b);
    const cold = await get(b, path); // a miss: B fills its L1 and Redis
    const warm = await get(b, path); // from B's L1
    const m1 = await counters(b);
    expect(warm).toEqual(cold);
    expect(moved(m1, m0)).toMatchObject({ l1: 1, l2: 0, misses: 1, bypasses: 0 });

    const name = `Bob ${Math.random().toString(36).slice(2, 8)}`;
    const res = await fetch(a.url + path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: t.ids.users.bob, name });
    const bump = res.headers.get(BUMP_HEADER);
    expect(bump).toMatch(/^\d+:.+$/);

    // With A's bump as x-cache-after, B answers once it has applied the bump:
    // its L1 entry is stale then, and so is its Redis entry (A bumped before
    // answering), so B reads the database.
    const fresh = await get(b, path, 200, { [AFTER_HEADER]: bump! });
    expect(fresh).toEqual({ ...cold, name });
    const m2 = await counters(b);
    expect(moved(m2, m1)).toMatchObject({ l1: 0, l2: 0, misses: 1, bypasses: 0 });
    expect(m2.remoteBumps).toBeGreaterThan(m1.remoteBumps);
    // A releases its write marks just after answering (its next message). Once B has that too, the row is
    // cached again: the next read is from B's L1, with the new name.
    const [seq, instance] = bump!.split(/:(.*)/);
    expect(await get(b, path, 200, { [AFTER_HEADER]: `${Number(seq) + 1}:${instance}` })).toEqual(fresh);
    const m3 = await counters(b);
    expect(await get(b, path)).toEqual(fresh);
    expect(moved(await counters(b), m3)).toMatchObject({ l1: 1, misses: 0 });
  });

  it("GET /metrics moves the hit and miss counters by exactly what the reads did", async () => {
    const [a0, b0] = await Promise.all([counters(a), counters(b)]);
    const [aOps0, bOps0] = await Promise.all([operations(a), operations(b)]);
    const carol = `/users/${t.ids.users.carol}`;
    const hello = `/posts/${t.ids.posts.hello}`;
    await get(a, carol); // A: miss
    await get(a, carol); // A: L1
    await get(b, carol); // B: L2 (A stored it in Redis), then in B's L1
    await get(b, carol); // B: L1
    const post = await get(a, hello); // A: miss
    expect(post).toMatchObject({ id: t.ids.posts.hello, author: { id: t.ids.users.alice } });
    expect(await get(b, hello)).toEqual(post); // B: L2
    await get(a, "/users?role=USER"); // A: miss
    await get(a, "/users?role=USER"); // A: L1
    await get(b, "/users/2147483647", 404); // B: miss ("not found" is cached too)
    await get(b, "/users/2147483647", 404); // B: L1
    const [a1, b1] = await Promise.all([counters(a), counters(b)]);
    expect(moved(a1, a0)).toMatchObject({ l1: 2, l2: 0, misses: 3, fills: 3, bypasses: 0 });
    expect(moved(b1, b0)).toMatchObject({ l1: 2, l2: 2, misses: 1, fills: 1, bypasses: 0 });
    // The same by model and operation.
    const [aOps1, bOps1] = await Promise.all([operations(a), operations(b)]);
    expect(movedBy(aOps1, aOps0)).toEqual({
      "hits User.findUnique l1": 1,
      "misses User.findUnique": 1,
      "fills User.findUnique": 1,
      "misses Post.findUnique": 1,
      "fills Post.findUnique": 1,
      "hits User.findMany l1": 1,
      "misses User.findMany": 1,
      "fills User.findMany": 1,
    });
    expect(movedBy(bOps1, bOps0)).toEqual({
      "hits User.findUnique l1": 2,
      "hits User.findUnique l2": 1,
      "misses User.findUnique": 1,
      "fills User.findUnique": 1,
      "hits Post.findUnique l2": 1,
    });
  });

  it("x-cache-after: the sender's own bump is served from the cache, one not applied in time from the database", async () => {
    const path = `/users/${t.ids.users.carol}`;
    const name = `Carol ${Math.random().toString(36).slice(2, 8)}`;
    const res = await fetch(a.url + path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
    expect(res.status).toBe(200);
    const [seq, instance] = res.headers.get(BUMP_HEADER)!.split(/:(.*)/);
    const a0 = await counters(a);
    // A published this bump itself: it waits for nothing and reads through its cache (a miss, then L1).
    expect(await get(a, path, 200, { [AFTER_HEADER]: `${seq}:${instance}` })).toMatchObject({ name });
    expect(await get(a, path, 200, { [AFTER_HEADER]: `${seq}:${instance}` })).toMatchObject({ name });
    expect(moved(await counters(a), a0)).toMatchObject({ l1: 1, misses: 1 });
    // A bump B will not see within DELIVERY_WAIT_MS (A has not published it): B reads the database, past its cache.
    const b0 = await counters(b);
    expect(await get(b, path, 200, { [AFTER_HEADER]: `${Number(seq) + 1_000_000}:${instance}` })).toMatchObject({ name });
    expect(moved(await counters(b), b0)).toMatchObject({ l1: 0, l2: 0, misses: 0, bypasses: 0 });
    // A malformed one is refused.
    expect(await get(b, path, 400, { [AFTER_HEADER]: "soon" })).toEqual({ error: `${AFTER_HEADER} must be a ${BUMP_HEADER} value` });
  });

  it("exposes every counter of stats() with Prometheus names and types", async () => {
    const text = await (await fetch(`${a.url}/metrics`)).text();
    for (const name of [
      "hits",
      "misses",
      "bypasses",
      "fills",
      "fills_refused",
      "coalesced",
      "invalidations",
      "redis_errors",
      "remote_bumps",
      "l1_flushes",
      "audits",
      "stale_detected",
      "operation_hits",
      "operation_misses",
    ])
      expect(text).toContain(`# TYPE prisma_cache_${name}_total counter`);
    const samples = await scrapeMetrics(a.url);
    for (const reason of ["cache-false", "model-disabled", "no-ttl", "transaction", "query-extension", "scope-error", "row-level-security"])
      expect(samples.has(`prisma_cache_bypasses_total{reason="${reason}"}`), reason).toBe(true);
  });

  it("with --no-cache serves the same rows through the plain client, and /metrics has no cache counters", async () => {
    const plain = await startInstance({ databaseUrl: t.url(), cache: false });
    started.push(plain);
    const path = `/posts/${t.ids.posts.hello}`;
    expect(await get(plain, path)).toEqual(await get(a, path));
    expect(await get(plain, "/health")).toEqual({ ok: true, cache: false });
    expect([...(await scrapeMetrics(plain.url)).keys()].filter((k) => k.startsWith("prisma_cache_"))).toEqual([]);
    await plain.stop();
  }, 90_000);
});
