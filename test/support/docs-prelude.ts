/**
 * What the TypeScript blocks of README.md and docs/*.md may use without
 * declaring it, when test/unit/docs.test.ts runs them (their types are
 * test/support/docs-prelude-types.ts's). The test imports each of these names
 * into the blocks that use one and do not declare it:
 *
 * - `base`: a PrismaClient of the test schema, typed as the Postgres client
 *   (generated/prisma) the docs' app has, but the SQLite client of the same
 *   schema (the blocks run with `./generated/prisma/...` mapped to
 *   generated/prisma-sqlite), on a temp file with the committed migrations
 *   applied, seeded as the quick start's demo is (users, posts with tags and
 *   comments, a `Sample` row);
 * - `prisma`: `base` with the cache (`ttl: 60`, L1 only);
 * - `redis`: typed as the app's ioredis client, but undefined when the blocks
 *   run, so that a block passing it to `prismaCache` runs on L1 alone;
 * - `adapter`: a driver adapter of that database.
 *
 * No server: SQLite is a file, opened in this process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { seed } from "../../examples/quickstart/db";
import { PrismaClient as SqlitePrismaClient } from "../../generated/prisma-sqlite/client";
import { prismaCache } from "../../src/index";
import type * as Declared from "./docs-prelude-types";
import { createMigratedSqliteFile } from "./sqlite";

const dir = mkdtempSync(path.join(os.tmpdir(), "ptc-docs-"));
const url = await createMigratedSqliteFile(path.join(dir, "docs.db"));

const sqlite = new PrismaBetterSqlite3({ url });
/** A driver adapter of the database, for blocks that make their own client. */
export const adapter = sqlite as unknown as typeof Declared.adapter;

/** A plain PrismaClient on the database, seeded. */
export const base = new SqlitePrismaClient({ adapter: sqlite }) as unknown as typeof Declared.base;
await seed(base);

/** The app's Redis client in the docs' types; undefined at run time (no Redis here). */
export const redis = undefined as unknown as typeof Declared.redis;

/** `base` with the cache, as the quick start makes it, without Redis. */
export const prisma: typeof Declared.prisma = base.$extends(prismaCache({ ttl: 60 }));

/** Closes the clients and removes the database. */
export async function closeDocsPrelude(): Promise<void> {
  await prisma.$disconnect();
  await base.$disconnect();
  rmSync(dir, { recursive: true, force: true });
}
