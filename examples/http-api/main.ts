/**
 * One instance of the HTTP API example (see `app.ts`), as a process:
 *
 * ```sh
 * DATABASE_URL=postgresql://127.0.0.1/app REDIS_URL=redis://127.0.0.1:6379 PORT=3000 npx tsx examples/http-api/main.ts
 * DATABASE_URL=postgresql://127.0.0.1/app PORT=3001 npx tsx examples/http-api/main.ts --no-cache
 * ```
 *
 * - `DATABASE_URL`: a database with the committed migrations applied.
 * - `REDIS_URL`: the Redis every instance shares (required unless `--no-cache`).
 * - `REDIS_CLIENT`: the package of the Redis client: `ioredis` (default),
 *   `iovalkey`, or `redis` (node-redis).
 * - `PORT`: the port on 127.0.0.1; `0` or unset picks a free one.
 * - `CACHE_NAMESPACE` (default `http-api`), `CACHE_TTL` (s, default 60),
 *   `CACHE_HEARTBEAT_MS` (default: the cache's): options of the cache.
 * - `--no-cache`: serve through the plain PrismaClient, for comparisons.
 *
 * Prints `http-api listening on http://127.0.0.1:<port> (cache on|off)` once
 * it serves. Stops on SIGINT or SIGTERM, and, when started with an IPC
 * channel (`child_process.fork`), as soon as that channel closes, so that it
 * never outlives the process that started it.
 * All of it is `runInstance` of `../shared/instances.ts`, the other end of
 * `startInstance`.
 * @module
 */
import { runInstance } from "../shared/instances";
import { startApi } from "./app";

await runInstance("http-api", startApi);
