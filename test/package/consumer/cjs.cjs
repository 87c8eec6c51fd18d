// The CJS consumer: loads prisma-tiered-cache with `require`, as a CommonJS
// app does. The generated Prisma client is ESM only, so the shared scenario
// (which imports it) is loaded with import().
const cache = require("prisma-tiered-cache");
const adapterPg = require("@prisma/adapter-pg");
const ioredis = require("ioredis");

import("./scenario.mjs")
  .then(({ run }) => run(cache, adapterPg, ioredis, require.resolve("prisma-tiered-cache")))
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
