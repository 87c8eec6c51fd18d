/**
 * Vitest global setup: provides a real database of the kind `PTC_DB`
 * names (PostgreSQL by default, `mysql` for MariaDB, `mysql-rm` for MariaDB
 * with the relationMode = "prisma" schema, `sqlite`), with a migrated template, and a real Redis, all on loopback. Each server comes
 * from the first source that works (see test/support/servers.ts and
 * test/support/mariadb.ts):
 *   1. `DATABASE_URL` / `MYSQL_URL` / `REDIS_URL` from the environment;
 *   2. local binaries (`initdb` + `postgres`, `mariadb-install-db` + `mariadbd`, `redis-server`) in a temp dir;
 *   3. testcontainers, only when a Docker engine answers.
 * SQLite needs no server: the template is a file in a temp dir.
 *
 * `PTC_DB` is read from the project's `env` (vitest.config.ts), else from
 * the environment, so `PTC_DB=sqlite npx vitest run --project suite <file>`
 * runs any file on SQLite.
 */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { DATABASE_HINTS, type DatabaseSource, prepareDatabases } from "../support/databases";
import { databaseKindNamed, providerOfKind } from "../support/providers";
import { ServerScope, startRedis } from "../support/servers";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where test databases come from: the provider, and its server and template database (or template file). */
    ptcDatabase: DatabaseSource;
    /** URL of the test Postgres server's `postgres` database (for CREATE/DROP DATABASE); only on Postgres runs. */
    ptcPgAdminUrl: string;
    /** Name of the Postgres template database holding the committed migrations; only on Postgres runs. */
    ptcTemplateDb: string;
    /** URL of the test Redis server. */
    ptcRedisUrl: string;
    /** Unique id of this test run; used in database names and key namespaces. */
    ptcRunId: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(3).toString("hex");
  const scope = new ServerScope("[ptc test setup]");
  const cleanup = () => scope.close();
  try {
    const kind = databaseKindNamed(project.config.env?.PTC_DB ?? process.env.PTC_DB);
    const provider = providerOfKind(kind);
    const [db, redis] = await Promise.allSettled([prepareDatabases(scope, kind, runId), startRedis(scope)]);
    if (db.status === "rejected" || redis.status === "rejected") {
      const failures = [db, redis].filter((r) => r.status === "rejected").map((r) => String(r.reason?.message ?? r.reason));
      // The Postgres hint names redis-server too.
      const redisHint = redis.status === "rejected" && provider !== "postgresql" ? "Install redis-server, or set REDIS_URL to a loopback Redis." : "";
      const hints = [DATABASE_HINTS[provider], redisHint];
      throw new Error(`Integration tests (${kind}) need their database and Redis. ${failures.join(" | ")}.\n${hints.filter(Boolean).join("\n")}`);
    }
    console.log(`[ptc test setup] ${db.value.description}; redis: ${redis.value.source}`);
    const source = db.value.source;
    project.provide("ptcDatabase", source);
    if (source.provider === "postgresql") {
      project.provide("ptcPgAdminUrl", source.adminUrl);
      project.provide("ptcTemplateDb", source.template);
    }
    project.provide("ptcRedisUrl", redis.value.url);
    project.provide("ptcRunId", runId);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return cleanup;
}
