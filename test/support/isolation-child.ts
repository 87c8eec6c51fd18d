/**
 * A separate OS process for the isolation tests, run with
 * `node --import tsx test/support/isolation-child.ts '<config>'`. It builds
 * one scenario on the namespace it is given (own Prisma clients, own Redis
 * connections, own L1), makes every caller's reads once, and sends back the
 * results, the statements that reached the database, and the stats of each
 * cache runtime (callers derived from one cached client share one).
 */
import { Redis } from "ioredis";
import { buildScenario, readAll, statements, type ScenarioConfig, type ScenarioName } from "./isolation-scenarios";

const { name, redisUrl, ...config } = JSON.parse(process.argv[2]!) as ScenarioConfig & { name: ScenarioName; redisUrl: string };

const connections: Redis[] = [];
const scenario = buildScenario(name, config, () => {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  connections.push(r);
  return r;
});
try {
  const results: unknown[][] = [];
  for (const t of scenario.tenants) results.push(await readAll(t.cached, config.seeded));
  process.send!({ results, statements: statements(scenario.counter), stats: [...new Set(scenario.tenants.map((t) => t.cached.$cache))].map((c) => c.stats()) });
} finally {
  await scenario.close();
  for (const r of connections) r.disconnect();
}
