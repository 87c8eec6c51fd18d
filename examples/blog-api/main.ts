/**
 * One instance of the blog API example (see `app.ts`), as a process:
 *
 * ```sh
 * DATABASE_URL=postgresql://127.0.0.1/blog REDIS_URL=redis://127.0.0.1:6379 PORT=3000 npx tsx examples/blog-api/main.ts
 * DATABASE_URL=postgresql://127.0.0.1/blog PORT=3001 npx tsx examples/blog-api/main.ts --no-cache
 * ```
 *
 * - `DATABASE_URL`: a database with the blog migrations applied (`database.ts`).
 * - `REDIS_URL`: the Redis every instance shares (required unless `--no-cache`).
 * - `PORT`: the port on 127.0.0.1; `0` or unset picks a free one.
 * - `CACHE_NAMESPACE` (default: the cache's), `CACHE_TTL` (s, default 60),
 *   `CACHE_HEARTBEAT_MS` (default: the cache's): options of the cache.
 * - `--no-cache`: serve through the plain PrismaClient, for comparisons.
 *
 * Prints `blog-api listening on http://127.0.0.1:<port> (cache on|off)` once
 * it serves. Stops on SIGINT or SIGTERM, and, when started with an IPC
 * channel (`child_process.fork`), as soon as that channel closes.
 * @module
 */
import { LISTENING, type RunningBlogApi, startBlogApi } from "./app";

/** The number in env var `name`, or undefined if unset. */
function numberFrom(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(text)}`);
  return value;
}

let api: RunningBlogApi | undefined;
let stopping = false;
/** Closes the instance and exits; before it listens, exits at once. */
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (!api) process.exit(1);
  api.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error("[blog-api] close failed:", err);
      process.exit(1);
    },
  );
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
if (process.connected) process.once("disconnect", stop);

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is not set");
api = await startBlogApi({
  databaseUrl,
  redisUrl: process.env.REDIS_URL || undefined,
  port: numberFrom("PORT") ?? 0,
  cache: !process.argv.includes("--no-cache"),
  namespace: process.env.CACHE_NAMESPACE || undefined,
  ttl: numberFrom("CACHE_TTL"),
  heartbeat: numberFrom("CACHE_HEARTBEAT_MS"),
});
console.log(`${LISTENING}${api.url} (cache ${api.cached ? "on" : "off"})`);
