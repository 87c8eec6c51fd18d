// The ESM consumer: loads prisma-tiered-cache with `import`, as an ESM app does.
import * as adapterPg from "@prisma/adapter-pg";
import * as ioredis from "ioredis";
import * as cache from "prisma-tiered-cache";
import { run } from "./scenario.mjs";

await run(cache, adapterPg, ioredis, import.meta.resolve("prisma-tiered-cache"));
