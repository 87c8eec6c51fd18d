// An app that loads both builds: one of its packages imports
// prisma-tiered-cache (ESM), another requires it (CJS). A declaration made with
// one copy must be seen by the cache of the other: a query extension marked
// with the CJS copy's cacheNeutral, beneath the ESM copy's cache, is cached.
// Prints one JSON line for the test.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as adapterPg from "@prisma/adapter-pg";
import * as esm from "prisma-tiered-cache";

const require = createRequire(import.meta.url);
const cjs = require("prisma-tiered-cache");
const { DATABASE_URL, PTC_CLIENT } = process.env;
const { PrismaClient } = await import(pathToFileURL(PTC_CLIENT).href);
const base = new PrismaClient({ adapter: new adapterPg.PrismaPg({ connectionString: DATABASE_URL }) });
const passThrough = {
  name: "pass-through",
  query: { $allModels: { $allOperations: ({ args, query }) => query(args) } },
};
const esmCache = base.$extends(esm.prismaCache({ ttl: 60 })).$extends(cjs.cacheNeutral(passThrough));
const cjsCache = base.$extends(cjs.prismaCache({ ttl: 60 })).$extends(esm.cacheScope("tenant-1", passThrough));
try {
  const counts = (s) => ({ l1: s.hits.l1, misses: s.misses, bypasses: s.bypasses });
  for (const client of [esmCache, cjsCache]) for (let i = 0; i < 2; i++) await client.user.count();
  // An error of one copy is an instance of the other copy's classes of its name, and of no other.
  const thrown = (() => {
    try {
      esm.prismaCache({ ttl: -1 });
    } catch (e) {
      return e;
    }
  })();
  const instanceOf = {
    config: thrown instanceof cjs.CacheConfigError,
    base: thrown instanceof cjs.CacheError,
    usage: thrown instanceof cjs.CacheUsageError,
    error: thrown instanceof Error,
  };
  const out = { twoCopies: esm.prismaCache !== cjs.prismaCache, esmCache: counts(esmCache.$cache.stats()), cjsCache: counts(cjsCache.$cache.stats()), instanceOf };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await base.$disconnect();
}
