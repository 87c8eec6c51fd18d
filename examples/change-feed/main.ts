/**
 * The change feed, shown: two processes cache a read of one user, `psql`
 * (a client without the cache) renames the user, and both processes read
 * the new name from their caches within milliseconds.
 *
 * ```sh
 * npm run example:change-feed
 * ```
 *
 * Servers: `DATABASE_URL` and `REDIS_URL` if set (loopback only; the
 * Postgres needs `wal_level = logical`), else local `postgres` and
 * `redis-server` binaries on free loopback ports, as the tests start them.
 * @module
 */
import { execFile, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../../generated/prisma/client";
import { createMigratedDatabase, dropRunDatabases, ServerScope, startServers } from "../../test/support/servers";

const scope = new ServerScope("[change-feed example]");
try {
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    const servers = await startServers(scope, "The change feed example");
    const runId = randomBytes(3).toString("hex");
    scope.defer(() => dropRunDatabases(servers.postgres.url, runId));
    databaseUrl = await createMigratedDatabase(servers.postgres.url, `ptc_${runId}_change_feed`);
    redisUrl = servers.redis.url;
  }
  const seed = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
  const user = await seed.user.create({ data: { email: `ada-${randomBytes(3).toString("hex")}@example.com`, name: "Ada" } });
  await seed.$disconnect();
  const namespace = `change-feed-example:${randomBytes(3).toString("hex")}`;

  const worker = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const procs = [1, 2].map((n) => {
    const child = fork(worker, [databaseUrl, redisUrl, namespace, String(user.id)], { execArgv: ["--import", "tsx"] });
    const reads: Array<{ name: string; status: string; after?: number; feed?: string }> = [];
    child.on("message", (m: { type: string; name: string; status: string; after?: number; feed?: string }) => {
      reads.push(m);
      console.log(`process ${n}: ${m.name} (${m.status}${m.after === undefined ? "" : `, ${m.after} ms after the write`}; its feed: ${m.feed})`);
    });
    return { child, reads };
  });
  const until = async (what: string, check: () => boolean) => {
    const end = Date.now() + 30_000;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until("both processes to cache the read", () => procs.every((p) => p.reads.length > 0));
  // Wait until one of them consumes the feed (its slot is active; the other stands by), then write outside the app.
  const feedSlot = `ptc_${namespace.replace(/[^a-z0-9_]/g, "_")}`;
  const pgc = new pg.Client({ connectionString: databaseUrl });
  await pgc.connect();
  for (let i = 0; i < 300; i++) {
    const r = await pgc.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [feedSlot]);
    if (r.rows[0]?.active) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const sql = `UPDATE "User" SET name = 'Ada (renamed by psql)' WHERE id = ${user.id}`;
  const at = Date.now();
  for (const p of procs) p.child.send({ type: "write", at });
  try {
    // synchronous_commit on (the test servers turn it off): the commit reaches the WAL, and the feed, at once.
    await promisify(execFile)("psql", [databaseUrl, "-c", sql], { env: { ...process.env, PGOPTIONS: "-c synchronous_commit=on" } });
    console.log(`psql: ${sql}`);
  } catch {
    // No psql on PATH: the same statement on a plain connection.
    await pgc.query("SET synchronous_commit = on");
    await pgc.query(sql);
    console.log(`(psql not found; ran on a plain pg connection) ${sql}`);
  }
  await until("both processes to read the new name", () => procs.every((p) => p.reads.some((r) => r.name === "Ada (renamed by psql)")));
  console.log("both processes read the new name: the outside write invalidated their caches");
  for (const p of procs) p.child.send({ type: "exit" });
  await Promise.all(procs.map((p) => new Promise((r) => p.child.once("exit", r))));
  await pgc.query("SELECT pg_drop_replication_slot($1)", [feedSlot]).catch(() => undefined);
  await pgc.end();
} finally {
  await scope.close();
}
