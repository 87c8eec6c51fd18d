/**
 * The names the docs' TypeScript blocks may use without declaring them, as
 * the docs' app has them: `base` (its PrismaClient), `prisma` (`base` with
 * the cache), `redis` (its ioredis client) and `adapter` (its driver
 * adapter). test/unit/docs.test.ts type-checks the blocks against these
 * declarations, and runs them with test/support/docs-prelude.ts, whose
 * exports have these types. Types only (nothing here runs): the program
 * that checks the blocks need not parse the client and database they run on.
 */
import type { PrismaPg } from "@prisma/adapter-pg";
import type { Redis } from "ioredis";
import type { PrismaClient } from "../../generated/prisma/client";
import { prismaCache } from "../../src/index";

/** The app's PrismaClient, without the cache. */
export declare const base: PrismaClient;
/** The app's ioredis client. */
export declare const redis: Redis;
/** The app's driver adapter. */
export declare const adapter: PrismaPg;
/** `base` with the cache. */
export declare const prisma: ReturnType<typeof withCache>;

/** How `prisma` is made (its type only is used). */
const withCache = (client: PrismaClient) => client.$extends(prismaCache({ ttl: 60 }));
