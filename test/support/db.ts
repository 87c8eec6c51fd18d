/**
 * Helpers for integration tests: per-file databases of the run's provider
 * (PostgreSQL, MariaDB or SQLite: `PTC_DB`, see test/setup/global.ts), Redis
 * namespaces, a Prisma driver adapter that counts, gates and fails queries,
 * and seed data.
 */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { Prisma, type PrismaClient } from "../../generated/prisma/client";
import { newPrismaClient } from "./clients";
import { createCountingAdapter, type QueryCounter } from "./counting-adapter";
import { copyTemplate } from "./databases";
import { type DatabaseKind, kindOf, type Provider } from "./providers";

export { createCountingAdapter, type Gate, mentionsTable, type QueryCounter, type QueryInfo, type QueryPredicate } from "./counting-adapter";
export type { DatabaseKind, Provider } from "./providers";

let sequence = 0;
const unique = () => `${inject("ptcRunId")}_${process.pid}_${++sequence}_${randomBytes(2).toString("hex")}`;

/** The provider this run's test databases are on (`PTC_DB`; `mysql` for `mysql-rm`). */
export function provider(): Provider {
  return inject("ptcDatabase").provider;
}

/** The kind of this run's test databases (`PTC_DB`): the provider, or `mysql-rm` for MySQL with relationMode = "prisma". */
export function databaseKind(): DatabaseKind {
  return inject("ptcDatabase").kind;
}

/**
 * The value for the run's provider, the Postgres one when the provider has
 * none of its own: e.g. raw SQL text in each dialect.
 */
export function byProvider<T>(values: { postgresql: T } & Partial<Record<Provider, T>>): T {
  return values[provider()] ?? values.postgresql;
}

/**
 * An identifier quoted for raw SQL on the run's provider (`"Post"` on
 * Postgres and SQLite, `` `Post` `` on MySQL), to put in a `Prisma.sql` or
 * `$executeRaw` template.
 */
export function sqlIdent(name: string): Prisma.Sql {
  return Prisma.raw(provider() === "mysql" ? `\`${name}\`` : `"${name}"`);
}

/** A database of its own for one test file. */
export interface TestDatabase {
  /** Database name (on SQLite, the file's name without `.db`). */
  name: string;
  /** Connection URL for the database (`postgresql://`, `mysql://` or `file:`). */
  url: string;
  /**
   * Drops the database (Postgres closes connections still open; MariaDB leaves them open on nothing; SQLite:
   * removes the file). Safe to call twice.
   */
  drop(): Promise<void>;
}

/**
 * Creates a fresh, migrated, empty database copied from the run's template,
 * on the run's provider. Each call gets a unique name; call `drop()` in
 * `afterAll`.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ptc_${unique()}`;
  const db = await copyTemplate(inject("ptcDatabase"), name);
  let dropped: Promise<unknown> | undefined;
  return {
    name,
    url: db.url,
    drop: async () => {
      dropped ??= db.drop();
      await dropped;
    },
  };
}

/** URL of the test Redis. Share it, but keep keys under {@link uniqueNamespace}; never FLUSHDB. */
export function redisUrl(): string {
  return inject("ptcRedisUrl");
}

/** A cache namespace unique to this call, e.g. `ptc:1a2b3c_4242_1_9f0e`. */
export function uniqueNamespace(prefix = "ptc"): string {
  return `${prefix}:${unique()}`;
}

/** Client options other than the adapter. */
export type ClientOptions = Omit<Prisma.PrismaClientOptionsWithAdapter, "adapter">;

/**
 * A `PrismaClient` on the counting adapter, of the client generated for the
 * database kind `url` names (typed as the Postgres client; see clients.ts).
 * Remember `prisma.$disconnect()`.
 */
export function createClient(url: string, opts: ClientOptions = {}): { prisma: PrismaClient; counter: QueryCounter } {
  const { adapter, counter } = createCountingAdapter(url);
  return { prisma: newPrismaClient(kindOf(url), { ...opts, adapter }), counter };
}

/** Input of the two `Sample` rows {@link seed} creates: every scalar type, with edge values. */
export const SAMPLE_ROWS = [
  {
    tenant: "acme",
    slug: "alpha",
    text: 'héllo "quoted" \n 🚀',
    int: -2147483648,
    big: 9007199254740993n, // 2^53 + 1: not representable as a JS number
    float: 0.1 + 0.2,
    decimal: new Prisma.Decimal("12345678901234.123456"),
    flag: true,
    at: new Date("2024-02-29T23:59:59.999Z"),
    json: {
      date: "2024-01-02T03:04:05.000Z",
      number: "12345678901234567890",
      big: "9007199254740993",
      $type: "DateTime",
      nested: [1, "2", null, true, { deep: "1970-01-01" }],
    },
    bytes: new Uint8Array([0, 1, 2, 127, 128, 255]),
    role: "ADMIN",
    note: "first",
  },
  {
    tenant: "acme",
    slug: "beta",
    text: "",
    int: 0,
    big: -(2n ** 62n),
    float: -1.5e-10,
    decimal: new Prisma.Decimal("-0.000001"),
    flag: false,
    at: new Date("1970-01-01T00:00:00.000Z"),
    json: ["2024-01-02", "42", 42, { "": null }],
    bytes: new Uint8Array([]),
    role: "USER",
    note: null,
  },
] satisfies Prisma.SampleCreateInput[];

/** Ids of the rows {@link seed} creates. */
export interface SeedIds {
  users: { alice: number; bob: number; carol: number };
  profiles: { alice: number; bob: number };
  posts: { hello: number; draft: number; orphan: number };
  comments: number[];
  tags: { news: number; tech: number; life: number };
  groups: { admins: number; writers: number };
  samples: { alpha: number; beta: number };
}

/**
 * Inserts a small deterministic dataset touching every model. Use the plain
 * client (before `$extends`) on a fresh database.
 *
 * - users alice (ADMIN, profile), bob (EDITOR, profile, managed by alice), carol (USER, managed by alice)
 * - tags news, tech, life; posts "Hello" (alice, published, news+tech, 2 comments),
 *   "Draft" (bob, unpublished, tech, 1 comment), "Orphan" (no author, published)
 * - groups admins (alice as owner), writers (alice, bob); two `Sample` rows ({@link SAMPLE_ROWS})
 */
export async function seed(prisma: PrismaClient): Promise<SeedIds> {
  const alice = await prisma.user.create({
    data: { email: "alice@example.com", name: "Alice", role: "ADMIN", profile: { create: { bio: "Founder" } } },
    include: { profile: true },
  });
  const bob = await prisma.user.create({
    data: { email: "bob@example.com", name: "Bob", role: "EDITOR", managerId: alice.id, profile: { create: { bio: "Editor" } } },
    include: { profile: true },
  });
  const carol = await prisma.user.create({ data: { email: "carol@example.com", name: null, managerId: alice.id } });
  const news = await prisma.tag.create({ data: { name: "news" } });
  const tech = await prisma.tag.create({ data: { name: "tech" } });
  const life = await prisma.tag.create({ data: { name: "life" } });
  const hello = await prisma.post.create({
    data: {
      title: "Hello",
      content: "First post",
      published: true,
      views: 10,
      authorId: alice.id,
      tags: { connect: [{ id: news.id }, { id: tech.id }] },
      comments: { create: [{ body: "Nice" }, { body: "Thanks" }] },
    },
    include: { comments: { orderBy: { id: "asc" } } },
  });
  const draft = await prisma.post.create({
    data: { title: "Draft", authorId: bob.id, tags: { connect: [{ id: tech.id }] }, comments: { create: [{ body: "When?" }] } },
    include: { comments: true },
  });
  const orphan = await prisma.post.create({ data: { title: "Orphan", published: true } });
  const admins = await prisma.group.create({ data: { name: "admins", memberships: { create: [{ userId: alice.id, role: "owner" }] } } });
  const writers = await prisma.group.create({ data: { name: "writers", memberships: { create: [{ userId: alice.id }, { userId: bob.id }] } } });
  const alpha = await prisma.sample.create({ data: SAMPLE_ROWS[0] });
  const beta = await prisma.sample.create({ data: SAMPLE_ROWS[1] });
  return {
    users: { alice: alice.id, bob: bob.id, carol: carol.id },
    profiles: { alice: alice.profile!.id, bob: bob.profile!.id },
    posts: { hello: hello.id, draft: draft.id, orphan: orphan.id },
    comments: [...hello.comments, ...draft.comments].map((c) => c.id),
    tags: { news: news.id, tech: tech.id, life: life.id },
    groups: { admins: admins.id, writers: writers.id },
    samples: { alpha: alpha.id, beta: beta.id },
  };
}
