/**
 * Tenant fixtures for the isolation tests: seed data, a tenant-scoping query
 * extension, Prisma's documented row-level-security extension, and the
 * Postgres role and policy the RLS scenario runs under.
 */
import pg from "pg";
import { Prisma, type PrismaClient } from "../../generated/prisma/client";
import { CACHED_READ_OPERATIONS } from "../../src/index";

/** The tenants the fixtures seed. */
export const TENANTS = ["t1", "t2", "t3"] as const;
export type Tenant = (typeof TENANTS)[number];

/** Ids of the seeded customers, by tenant. */
export type SeededTenants = Record<Tenant, { customers: number[]; orders: number[] }>;

/** Two customers per tenant, each with two orders. Use a plain client. */
export async function seedTenants(prisma: PrismaClient, label = "db"): Promise<SeededTenants> {
  const out = {} as SeededTenants;
  for (const [ti, tenantId] of TENANTS.entries()) {
    out[tenantId] = { customers: [], orders: [] };
    for (let c = 0; c < 2; c++) {
      const customer = await prisma.customer.create({
        data: {
          tenantId,
          email: `${tenantId}-c${c}@${label}.example`,
          name: `${label} ${tenantId} customer ${c}`,
          orders: {
            create: [
              { tenantId, total: 100 * (ti + 1) + c },
              { tenantId, total: 1000 * (ti + 1) + c },
            ],
          },
        },
        include: { orders: true },
      });
      out[tenantId].customers.push(customer.id);
      out[tenantId].orders.push(...customer.orders.map((o) => o.id));
    }
  }
  return out;
}

const SCOPED_MODELS = new Set(["Customer", "Order"]);
const READS = new Set<string>(CACHED_READ_OPERATIONS);

/**
 * The common tenant-scoping pattern: a query extension that adds
 * `where: { tenantId }` to every read of a tenant-owned model.
 */
export const scopedTo = (tenantId: string) =>
  Prisma.defineExtension({
    name: `tenant-filter`,
    query: {
      $allModels: {
        $allOperations({ model, operation, args, query }) {
          if (!SCOPED_MODELS.has(model) || !READS.has(operation)) return query(args);
          const a = args as { where?: object };
          return query({ ...a, where: { ...a.where, tenantId } } as typeof args);
        },
      },
    },
  });

/**
 * Prisma's documented row-level-security pattern: each query runs in a batch
 * transaction after `set_config('app.customer', id, true)`.
 */
export const forCustomer = (customerId: number) =>
  Prisma.defineExtension((prisma) =>
    prisma.$extends({
      name: "rls",
      query: {
        $allModels: {
          async $allOperations({ args, query }) {
            const [, result] = await prisma.$transaction([prisma.$executeRaw`SELECT set_config('app.customer', ${String(customerId)}, TRUE)`, query(args)]);
            return result;
          },
        },
      },
    }),
  );

/** A role row-level security applies to. */
export interface RowLevelSecurity {
  /** Connects as the role. */
  url: string;
  /** Drops the role (after the database is dropped). */
  dropRole(adminUrl: string): Promise<void>;
}

/**
 * Creates a login role without superuser rights (superusers bypass RLS) and
 * a policy on "Order": a session sees the orders of the customer in
 * `app.customer` only. Returns a URL that connects as that role, and a
 * function that drops the role (call it after the database is dropped).
 */
export async function enableRowLevelSecurity(dbUrl: string, role: string): Promise<RowLevelSecurity> {
  const password = "rls-test";
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    await c.query(`CREATE ROLE "${role}" LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${password}'`);
    await c.query(`GRANT USAGE ON SCHEMA public TO "${role}"`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "${role}"`);
    await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "${role}"`);
    await c.query(`ALTER TABLE "Order" ENABLE ROW LEVEL SECURITY`);
    await c.query(`CREATE POLICY order_by_customer ON "Order" USING ("customerId" = NULLIF(current_setting('app.customer', TRUE), '')::int)`);
  } finally {
    await c.end();
  }
  const url = new URL(dbUrl);
  url.username = role;
  url.password = password;
  return {
    url: url.toString(),
    dropRole: async (adminUrl) => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP ROLE IF EXISTS "${role}"`);
      } finally {
        await a.end();
      }
    },
  };
}
