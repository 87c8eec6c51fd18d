/**
 * An embedded Postgres for the quick start: PGlite runs real Postgres inside
 * this process, so the demo needs no database server.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../../generated/prisma/client";

const MIGRATIONS = new URL("../../prisma/migrations/", import.meta.url);

/** An in-memory PGlite database with the committed migrations applied. */
export async function createDatabase(): Promise<PGlite> {
  const pglite = new PGlite(); // no data dir: in memory, gone when the process ends
  // The same SQL files `prisma migrate deploy` would apply, in directory order.
  for (const dir of readdirSync(MIGRATIONS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()) {
    const file = new URL(`${dir}/migration.sql`, MIGRATIONS);
    if (existsSync(file)) await pglite.exec(readFileSync(file, "utf8"));
  }
  return pglite;
}

/** A plain (uncached) Prisma client on the PGlite database. */
export const createClient = (pglite: PGlite) => new PrismaClient({ adapter: new PrismaPGlite(pglite) });

/** Ids of the seeded rows. */
export interface Seeded {
  alice: { id: number; email: string };
  post: { id: number };
}

/** Three users, posts with tags and comments, and one `Sample` row (compound unique). */
export async function seed(prisma: PrismaClient): Promise<Seeded> {
  const tags = ["news", "tech", "life"].map((name) => ({ where: { name }, create: { name } }));
  const alice = await prisma.user.create({ data: { email: "alice@example.com", name: "Alice", role: "ADMIN" } });
  await prisma.user.create({ data: { email: "bob@example.com", name: "Bob", role: "EDITOR" } });
  await prisma.user.create({ data: { email: "carol@example.com", name: "Carol" } });
  const post = await prisma.post.create({
    data: {
      title: "Hello, cache",
      published: true,
      views: 42,
      authorId: alice.id,
      tags: { connectOrCreate: tags.slice(0, 2) },
      comments: { create: [{ body: "First!" }, { body: "Nice post" }] },
    },
  });
  for (let i = 1; i <= 5; i++) {
    await prisma.post.create({
      data: { title: `Post ${i}`, published: i % 2 === 1, views: i * 10, authorId: alice.id, tags: { connectOrCreate: [tags[i % 3]!] } },
    });
  }
  await prisma.sample.create({
    data: {
      tenant: "acme",
      slug: "alpha",
      text: "every scalar type",
      int: 7,
      big: 9007199254740993n,
      float: 0.5,
      decimal: "12345.678901",
      flag: true,
      at: new Date("2024-02-29T12:00:00Z"),
      json: { nested: [1, 2] },
      bytes: new Uint8Array([1, 2, 3]),
      role: "USER",
    },
  });
  return { alice: { id: alice.id, email: alice.email }, post: { id: post.id } };
}
