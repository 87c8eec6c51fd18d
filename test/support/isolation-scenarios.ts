/**
 * The four isolation scenarios, built the same way in the test process and in
 * a child process (free of vitest). Each gives, per tenant, a cached client
 * and the uncached client whose results it must equal.
 *
 * - S1: a tenant filter chained after the cache: `cached.$extends(scopedTo(t))`.
 * - S2: per-tenant clients with the cache on top: `base.$extends(scopedTo(t)).$extends(prismaCache(...))`.
 * - S3: a client with a global `omit` and one without, on one Redis.
 * - S4: row-level security set per request by Prisma's documented extension.
 */
import type { RedisClient } from "../../src/index";
import { PrismaClient } from "../../generated/prisma/client";
import { cacheScope, prismaCache, type CacheEvent, type CacheOptions, type CacheStats } from "../../src/index";
import { createCountingAdapter, type QueryCounter } from "./counting-adapter";
import { forCustomer, scopedTo, type SeededTenants } from "./tenants";

export type ScenarioName = "S1" | "S2" | "S3" | "S4";

/** Where a scenario runs. */
export interface ScenarioConfig {
  /** Database URL (as the owner; superuser). */
  url: string;
  /** URL of the non-superuser role RLS applies to (S4). */
  rlsUrl: string;
  namespace: string;
  seeded: SeededTenants;
  /** With `true`, the extensions are declared (`cacheScope`) or `prismaCache({ scope })` is set. */
  declared: boolean;
  /** Extra cache options (e.g. `l1: false`). */
  options?: CacheOptions;
}

/** The delegate methods the scenarios call (Prisma's generic signatures differ per extended client). */
type Delegate = Record<"findMany" | "findFirst" | "findUnique" | "count" | "aggregate" | "groupBy" | "update" | "create", (args?: object) => Promise<unknown>>;
/** Anything with the delegates the scenarios use. */
export type Reader = { customer: Delegate; order: Delegate };
const asReader = <T = Reader>(client: unknown): T => client as T;

/** One caller: its cached client and the uncached client it must agree with. */
export interface ScenarioTenant {
  label: string;
  cached: Reader & { $cache: { stats(): CacheStats; on(l: (e: CacheEvent) => void): () => void } };
  truth: Reader;
}

export interface Scenario {
  tenants: ScenarioTenant[];
  /** Counts the statements of the cached clients (all share it). */
  counter: QueryCounter;
  /** Events the cached clients reported. */
  events: CacheEvent[];
  close(): Promise<void>;
}

/** The tag of the cache's one-off database fingerprint query. */
export const FINGERPRINT_TAG = "prisma-tiered-cache: database fingerprint";

/** Statements that reached the database, not counting the fingerprint query. */
export const statements = (c: QueryCounter): number => c.log.filter((q) => !q.sql.includes(FINGERPRINT_TAG)).length;

/**
 * The reads each caller makes: lists, a first, counts, aggregates, a groupBy,
 * an include, and a unique lookup of another tenant's row (must be null for
 * every tenant but its owner).
 */
export async function readAll(client: Reader, seeded: SeededTenants): Promise<unknown[]> {
  const foreign = seeded.t1.customers[0]!;
  return [
    await client.customer.findMany({ orderBy: { id: "asc" } }),
    await client.customer.findFirst({ orderBy: { id: "desc" } }),
    await client.customer.count(),
    await client.order.findMany({ orderBy: { id: "asc" } }),
    await client.order.aggregate({ _sum: { total: true }, _count: true }),
    await client.order.groupBy({ by: ["customerId"], _sum: { total: true }, orderBy: { customerId: "asc" } }),
    await client.customer.findMany({ include: { orders: { orderBy: { id: "asc" } } }, orderBy: { id: "asc" } }),
    await client.customer.findUnique({ where: { id: foreign } }),
  ];
}

/** Number of reads in {@link readAll}. */
export const READS_PER_CALLER = 8;

/** Builds a scenario. Close it when done. */
export function buildScenario(name: ScenarioName, config: ScenarioConfig, redis: () => RedisClient): Scenario {
  const closers: Array<() => Promise<void>> = [];
  const { counter, adapter } = createCountingAdapter(name === "S4" ? config.rlsUrl : config.url);
  const client = (opts: { omit?: { customer: { email: true } } } = {}) => {
    const c = new PrismaClient({ adapter, ...opts });
    closers.push(() => c.$disconnect());
    return c;
  };
  const plain = (opts: { omit?: { customer: { email: true } } } = {}) => {
    const c = new PrismaClient({ adapter: createCountingAdapter(name === "S4" ? config.rlsUrl : config.url).adapter, ...opts });
    closers.push(() => c.$disconnect());
    return c;
  };
  const events: CacheEvent[] = [];
  const cache = (extra: CacheOptions = {}) => prismaCache({ redis: redis(), ttl: 60, namespace: config.namespace, ...config.options, ...extra });
  const watch = (client: unknown): ScenarioTenant["cached"] => {
    const c = asReader<ScenarioTenant["cached"]>(client);
    c.$cache.on((e) => events.push(e));
    return c;
  };
  const tenants: ScenarioTenant[] = [];
  const truthBase = plain();
  if (name === "S1") {
    const cached = client().$extends(cache());
    closers.push(() => cached.$disconnect());
    for (const t of ["t1", "t2", "t3"] as const) {
      const ext = config.declared ? cacheScope(t, scopedTo(t)) : scopedTo(t);
      tenants.push({ label: t, cached: watch(cached.$extends(ext)), truth: asReader(truthBase.$extends(scopedTo(t))) });
    }
  } else if (name === "S2") {
    const base = client();
    for (const t of ["t1", "t2", "t3"] as const) {
      const cached = base.$extends(scopedTo(t)).$extends(cache(config.declared ? { scope: t } : {}));
      closers.push(() => cached.$cache.close());
      tenants.push({ label: t, cached: watch(cached), truth: asReader(truthBase.$extends(scopedTo(t))) });
    }
  } else if (name === "S3") {
    const omit = { customer: { email: true } } as const;
    const hidden = client({ omit }).$extends(cache());
    const full = client().$extends(cache());
    closers.push(
      () => hidden.$cache.close(),
      () => full.$cache.close(),
    );
    tenants.push({ label: "omit email", cached: watch(hidden), truth: asReader(plain({ omit })) });
    tenants.push({ label: "no omit", cached: watch(full), truth: asReader(truthBase) });
  } else {
    const cached = client().$extends(cache());
    closers.push(() => cached.$disconnect());
    const customers = [config.seeded.t1.customers[0]!, config.seeded.t1.customers[1]!, config.seeded.t2.customers[0]!];
    for (const id of customers) {
      const ext = config.declared ? cacheScope({ customer: id }, forCustomer(id)) : forCustomer(id);
      tenants.push({ label: `customer ${id}`, cached: watch(cached.$extends(ext)), truth: asReader(truthBase.$extends(forCustomer(id))) });
    }
  }
  return {
    tenants,
    counter,
    events,
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
