/**
 * The blog example's database: its committed migration applied to a new
 * database (as `prisma migrate deploy` would), and a deterministic seed of
 * users, tags, articles, comments, favorites and follows, for the load
 * script and the test. Free of vitest.
 * @module
 */
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/blog/client";
import { mulberry32 } from "../../test/support/prng";
import { databaseUrl, readMigrations, withClient } from "../../test/support/servers";

/** Directory of the blog schema's committed migrations. */
export const BLOG_MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * (Re)creates database `name` on the server of `adminUrl` (dropping any
 * existing one) and applies the blog schema's migrations. Returns its URL.
 * @throws naming the migration that failed.
 */
export async function createBlogDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const url = databaseUrl(adminUrl, name);
  const migrations = await readMigrations(BLOG_MIGRATIONS_DIR);
  await withClient(url, async (c) => {
    for (const { name: migration, sql } of migrations) {
      try {
        await c.query(sql);
      } catch (err) {
        throw new Error(`blog migration ${migration} failed: ${String(err)}`);
      }
    }
  });
  return url;
}

/** How much {@link seedBlog} creates. */
export interface SeedSizes {
  users: number;
  articles: number;
  tags: number;
  /** Comments per article: from 0 to twice this, uniformly. */
  commentsPerArticle: number;
  /** Favorites per user: from 0 to twice this, articles picked with Zipf weights. */
  favoritesPerUser: number;
  /** Users each user follows: from 0 to twice this, picked with Zipf weights. */
  followsPerUser: number;
}

/** What {@link seedBlog} created, in creation order (ids ascending). */
export interface Seeded {
  users: Array<{ id: number; username: string }>;
  articles: Array<{ id: number; slug: string }>;
  tags: string[];
  comments: number;
  favorites: number;
  follows: number;
}

/** The user of index `i`: `user<i>`. */
export const username = (i: number) => `user${i}`;
/** The article of index `i`: `article-<i>`. */
export const slugOf = (i: number) => `article-${i}`;

const WORDS = ["cache", "prisma", "redis", "query", "latency", "index", "replica", "bump", "lease", "tier", "write", "read", "fresh", "stale"];

/**
 * Fills an empty blog database, the same for the same `seed`: users
 * `user0`..., tags `tag0`..., articles `article-0`... (one author each,
 * round-robin; 1 to 3 tags; a body of about 1 KiB; `article-<n-1>` the
 * newest), then comments, favorites and follows as {@link SeedSizes} says.
 */
export async function seedBlog(url: string, sizes: SeedSizes, seed = 1): Promise<Seeded> {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const text = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(" ");
  const upTo = (mean: number) => Math.floor(rand() * (2 * mean + 1));
  /** Index of rank k (0-based) with weight 1/(k+1): a few hot rows and a long tail. */
  const zipfIndex = (n: number) => {
    let sum = 0;
    const cdf = Array.from({ length: n }, (_, i) => (sum += 1 / (i + 1)));
    return () => {
      const x = rand() * sum;
      const i = cdf.findIndex((c) => c >= x);
      return i < 0 ? n - 1 : i;
    };
  };

  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  try {
    await prisma.user.createMany({
      data: Array.from({ length: sizes.users }, (_, i) => ({
        email: `${username(i)}@blog.example`,
        username: username(i),
        bio: i % 3 === 0 ? null : `I write about ${text(3)}.`,
        image: i % 4 === 0 ? null : `https://img.blog.example/${username(i)}.png`,
      })),
    });
    const users = await prisma.user.findMany({ select: { id: true, username: true }, orderBy: { id: "asc" } });
    const tags = Array.from({ length: sizes.tags }, (_, i) => `tag${i}`);
    await prisma.tag.createMany({ data: tags.map((name) => ({ name })) });
    const tagIds = (await prisma.tag.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((t) => t.id);
    const start = Date.UTC(2026, 0, 1);
    await prisma.article.createMany({
      data: Array.from({ length: sizes.articles }, (_, i) => ({
        slug: slugOf(i),
        title: `Article ${i}: ${text(4)}`,
        description: text(12),
        body: text(150),
        createdAt: new Date(start + i * 60_000),
        updatedAt: new Date(start + i * 60_000),
        authorId: users[i % users.length]!.id,
      })),
    });
    const articles = await prisma.article.findMany({ select: { id: true, slug: true }, orderBy: { id: "asc" } });

    // Implicit many-to-many links: column A is the model first in alphabetical order (Article), B the other.
    const tagLinks = new Set<string>();
    const hotTag = zipfIndex(tagIds.length);
    for (const a of articles) for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) tagLinks.add(`${a.id},${tagIds[hotTag()]}`);
    await insertLinks(prisma, "_ArticleToTag", tagLinks);
    const favorites = new Set<string>();
    const hotArticle = zipfIndex(articles.length);
    for (const u of users) for (let k = upTo(sizes.favoritesPerUser); k > 0; k--) favorites.add(`${articles[hotArticle()]!.id},${u.id}`);
    await insertLinks(prisma, "_Favorites", favorites);
    // Follows go through Prisma, which knows which column of the self-relation's table is which side.
    const hotUser = zipfIndex(users.length);
    let follows = 0;
    for (const u of users) {
      const followed = new Set(Array.from({ length: upTo(sizes.followsPerUser) }, () => users[hotUser()]!.id));
      followed.delete(u.id);
      if (followed.size === 0) continue;
      await prisma.user.update({ where: { id: u.id }, data: { following: { connect: [...followed].map((id) => ({ id })) } } });
      follows += followed.size;
    }

    const comments = articles.flatMap((a, i) =>
      Array.from({ length: upTo(sizes.commentsPerArticle) }, (_, k) => ({
        body: text(20),
        articleId: a.id,
        authorId: pick(users).id,
        createdAt: new Date(start + i * 60_000 + (k + 1) * 1_000),
      })),
    );
    await prisma.comment.createMany({ data: comments });
    return { users, articles, tags, comments: comments.length, favorites: favorites.size, follows };
  } finally {
    await prisma.$disconnect();
  }
}

/** Inserts `"A,B"` pairs into an implicit many-to-many table. */
async function insertLinks(prisma: PrismaClient, table: "_ArticleToTag" | "_Favorites", pairs: Set<string>): Promise<void> {
  if (pairs.size === 0) return;
  const [a, b] = [0, 1].map((side) => [...pairs].map((p) => Number(p.split(",")[side])));
  await prisma.$executeRawUnsafe(`INSERT INTO "${table}" ("A", "B") SELECT * FROM unnest($1::int[], $2::int[])`, a, b);
}
