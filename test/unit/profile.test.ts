/**
 * The client profile: which extension layers beneath the cache make a read
 * uncacheable, and what goes into its key. Pure logic over fake extension
 * lists shaped like Prisma's (`{ head: { extension, previous } }`).
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { CacheConfigError, cacheNeutral, cacheScope, prismaCache } from "../../src/index";
import { probeInternals } from "../../src/prisma/internals";
import { markCacheLayer, Profiler } from "../../src/prisma/profile";

type Ext = Record<string, unknown>;
type Node = { extension: Ext; previous?: Node };
interface FakeClient {
  head: Node | undefined;
  $extends(e: unknown): FakeClient;
}
/**
 * A fake client whose `$extends` prepends a node the way Prisma does (nodes
 * are shared with the client it derives from; functions are called with the client).
 */
const fake = (head?: Node): FakeClient => ({
  head,
  $extends(e) {
    return typeof e === "function" ? (e as (c: FakeClient) => FakeClient)(this) : fake({ extension: e as Ext, previous: this.head });
  },
});
/** Prisma's list object of a fake client. */
const list = (client: FakeClient): { head?: object } => ({ head: client.head });

const own = { name: "prisma-tiered-cache" };
markCacheLayer(own);
const logger = { name: "log", query: { $allModels: { $allOperations: () => undefined } } };
const tenant = (t: string) => ({ name: "tenant", query: { customer: { findMany: () => t } } });
const profile = (client: FakeClient, base?: FakeClient, scope?: unknown) =>
  new Profiler(base ? list(base).head : undefined, scope as never).ofList(list(client.$extends(own)));

describe("Profiler", () => {
  it("a client with no extensions beneath the cache is bare: no prefix, nothing opaque", () => {
    const p = profile(fake());
    expect(p).toMatchObject({ simple: true, prefix: "", bare: true, transaction: false });
    expect(p.opaqueFor("Customer", "findMany")).toBeNull();
  });

  it("an undeclared query extension makes the reads it hooks opaque, and only those", () => {
    const p = profile(fake().$extends(tenant("t1")));
    expect(p.simple).toBe(false);
    expect(p.bare).toBe(false);
    expect(p.opaqueFor("Customer", "findMany")).toBe('extension "tenant"');
    expect(p.opaqueFor("Customer", "count")).toBeNull();
    expect(p.opaqueFor("Order", "findMany")).toBeNull();
    expect(p.opaqueFor(undefined, "$queryRaw")).toBeNull();
    const all = profile(fake().$extends(logger));
    expect(all.opaqueFor("Order", "groupBy")).toBe('extension "log"');
    expect(profile(fake().$extends({ query: { $allOperations: () => undefined } })).opaqueFor(undefined, "$queryRaw")).toBe("extension (unnamed)");
  });

  it("a query extension that only hooks writes leaves reads cached, but the client is not bare", () => {
    const p = profile(fake().$extends({ name: "audit", query: { customer: { create: () => undefined } } }));
    expect(p.opaqueFor("Customer", "findMany")).toBeNull();
    expect(p.bare).toBe(false);
  });

  it("a model method that replaces a read is opaque", () => {
    const p = profile(fake().$extends({ name: "soft-delete", model: { customer: { findMany: () => [] } } }));
    expect(p.opaqueFor("Customer", "findMany")).toBe('extension "soft-delete"');
    expect(p.opaqueFor("Order", "findMany")).toBeNull();
    expect(profile(fake().$extends({ model: { $allModels: { exists: () => true } } })).opaqueFor("Order", "findMany")).toBeNull();
  });

  it("cacheNeutral covers what it wraps, and adds nothing to the key", () => {
    const p = profile(fake().$extends(cacheNeutral(logger)));
    expect(p).toMatchObject({ simple: true, prefix: "", bare: true });
    // A later undeclared extension is still opaque.
    expect(profile(fake().$extends(cacheNeutral(logger)).$extends(tenant("t1"))).opaqueFor("Customer", "findMany")).toBe('extension "tenant"');
  });

  it("cacheScope with a value keys by it; with a function, by its value at each read", () => {
    const a = profile(fake().$extends(cacheScope("t1", tenant("t1"))));
    const b = profile(fake().$extends(cacheScope("t2", tenant("t2"))));
    expect(a.simple).toBe(true);
    expect(a.opaqueFor("Customer", "findMany")).toBeNull();
    expect(a.prefix).not.toBe("");
    expect(a.prefix).not.toBe(b.prefix);
    expect(profile(fake().$extends(cacheScope("t1", tenant("t1")))).prefix).toBe(a.prefix);
    let current = "x";
    const d = profile(fake().$extends(cacheScope(() => current, tenant("?"))));
    expect(d.simple).toBe(false);
    const first = d.keyPrefix();
    current = "y";
    expect(d.keyPrefix()).not.toBe(first);
    current = "x";
    expect(d.keyPrefix()).toBe(first);
  });

  it("nested and repeated declarations all count", () => {
    const p = profile(
      fake()
        .$extends(cacheScope("outer", cacheNeutral(tenant("t1"))))
        .$extends(cacheScope("second", logger)),
    );
    expect(p.opaqueFor("Customer", "findMany")).toBeNull();
    expect(p.prefix).toContain("outer");
    expect(p.prefix).toContain("second");
  });

  it("computed fields are keyed by their fields, needs and compute source, stably across profilers", () => {
    const ext = (compute: (c: { name: string }) => unknown) => ({ result: { customer: { label: { needs: { name: true }, compute } } } });
    const upper = profile(fake().$extends(ext((c) => c.name.toUpperCase())));
    const length = profile(fake().$extends(ext((c) => c.name.length)));
    expect(upper.prefix).not.toBe("");
    expect(upper.prefix).not.toBe(length.prefix);
    expect(profile(fake().$extends(ext((c) => c.name.toUpperCase()))).prefix).toBe(upper.prefix);
    expect(upper.bare).toBe(false);
    expect(upper.simple).toBe(true);
  });

  it("prismaCache({ scope }) covers the layers of the client it was applied to, not those chained after", () => {
    const base = fake().$extends(tenant("from-context"));
    const p = profile(base, base, () => "ctx");
    expect(p.opaqueFor("Customer", "findMany")).toBeNull();
    expect(p.dynamic).toHaveLength(1);
    const derived = profile(base.$extends(logger), base, "fixed");
    expect(derived.opaqueFor("Customer", "findMany")).toBe('extension "log"');
    expect(derived.prefix).toContain("fixed");
  });

  it("an unreadable extension list, or a missing internal, caches nothing", () => {
    expect(new Profiler(undefined, undefined).ofList(undefined).opaqueFor("Customer", "findMany")).toBe("(unreadable extension list)");
    expect(new Profiler(undefined, undefined).ofList({ head: { extension: 42 } }).opaqueFor("Customer", "count")).toBe("(unreadable extension list)");
    const blind = new Profiler(undefined, undefined, "Prisma internal _globalOmit (missing)");
    expect(blind.ofList(list(fake().$extends(own))).opaqueFor("Customer", "findMany")).toBe("Prisma internal _globalOmit (missing)");
  });

  it("each bypass is reported once per model and operation", () => {
    const p = profile(fake().$extends(logger));
    expect(p.firstReport("Customer.findMany")).toBe(true);
    expect(p.firstReport("Customer.findMany")).toBe(false);
    expect(p.firstReport("Customer.count")).toBe(true);
  });
});

describe("declarations and the internals probe", () => {
  it("cacheScope and cacheNeutral reject what is not an extension", () => {
    expect(() => cacheScope("t", null)).toThrow(/cacheScope\(scope, extension\): extension must be a Prisma extension/);
    expect(() => cacheNeutral(42)).toThrow(/cacheNeutral\(extension\): extension must be a Prisma extension .*, got number/);
  });

  it("prismaCache({ scope }) rejects a value with no canonical form", () => {
    expect(() => prismaCache({ scope: Symbol("x") as never })).toThrow(CacheConfigError);
    expect(() => prismaCache({ scope: Symbol("x") as never })).toThrow(/scope must be a function/);
    expect(() => prismaCache({ scope: { tenant: "a", roles: ["x", 1, 2n, null] } })).not.toThrow();
  });

  it("finds every internal on a real Prisma 7 client", () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
    expect(probeInternals(client)).toEqual([]);
  });

  it("names the internal that is missing: required ones throw a CacheConfigError when the cache is applied", () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
    const hidden = new Set<PropertyKey>(["_runtimeDataModel", "_globalOmit"]);
    const without = new Proxy(client, {
      get: (t, p, r) => (hidden.has(p) ? undefined : Reflect.get(t, p, r)),
      has: (t, p) => !hidden.has(p) && Reflect.has(t, p),
    });
    expect(probeInternals(without).map((m) => m.name)).toEqual(["_runtimeDataModel", "_globalOmit"]);
    expect(() => without.$extends(prismaCache({ ttl: 1 }))).toThrow(CacheConfigError);
    expect(() => without.$extends(prismaCache({ ttl: 1 }))).toThrow(/Prisma internal _runtimeDataModel is missing/);
  });

  it("an internal it can do without: the cache degrades as documented and reports it to every listener", () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
    const degraded = new Proxy(client, {
      get: (t, p, r) => (p === "_engineConfig" ? {} : Reflect.get(t, p, r)),
    });
    const cached = degraded.$extends(prismaCache({ ttl: 1 }));
    const seen: unknown[] = [];
    cached.$cache.on((e) => seen.push(e));
    expect(seen).toEqual([{ type: "degraded", internal: "_engineConfig.inlineSchema", effect: "invalidation is per model" }]);
    // The same client, not degraded, reports nothing.
    const fine: unknown[] = [];
    client.$extends(prismaCache({ ttl: 1 })).$cache.on((e) => fine.push(e));
    expect(fine).toEqual([]);
  });
});
