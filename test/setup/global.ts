/**
 * Vitest global setup: provides a real PostgreSQL (with a migrated template
 * database) and a real Redis, both on loopback. Each service comes from the
 * first source that works (see test/support/servers.ts):
 *   1. `DATABASE_URL` / `REDIS_URL` from the environment;
 *   2. local binaries (`initdb` + `postgres`, `redis-server`) in a temp dir;
 *   3. testcontainers, only when a Docker engine answers.
 */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { createMigratedDatabase, dropRunDatabases, isShared, ServerScope, startServers } from "../support/servers";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the test Postgres server's `postgres` database (for CREATE/DROP DATABASE). */
    ptcPgAdminUrl: string;
    /** Name of the template database holding the committed migrations. */
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
    const { postgres: pgServer, redis: redisServer } = await startServers(scope, "Integration tests");
    const shared = isShared(pgServer);
    // A private server gets the fixed template name; a shared one gets a per-run name.
    const template = shared ? `ptc_${runId}_template` : "ptc_template";
    if (shared) scope.deferLast(() => dropRunDatabases(pgServer.url, runId));
    await createMigratedDatabase(pgServer.url, template);
    console.log(`[ptc test setup] postgres: ${pgServer.source}; redis: ${redisServer.source}`);
    project.provide("ptcPgAdminUrl", pgServer.url);
    project.provide("ptcTemplateDb", template);
    project.provide("ptcRedisUrl", redisServer.url);
    project.provide("ptcRunId", runId);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return cleanup;
}
