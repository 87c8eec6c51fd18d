/**
 * Vitest global setup of the `cluster` project: Postgres as in global.ts,
 * and a Redis Cluster of three masters (test/support/redis-cluster.ts) as
 * the test Redis, given to the suites as a `redis-cluster://` URL.
 */
import type { TestProject } from "vitest/node";
import { CLUSTER_SCHEME } from "../support/redis-client";
import { startRedisCluster } from "../support/redis-cluster";
import setup from "./global";

export default async function clusterSetup(project: TestProject): Promise<() => Promise<void>> {
  const cleanup = await setup(project);
  try {
    const cluster = await startRedisCluster();
    console.log(`[ptc test setup] redis cluster: 3 masters on ${cluster.nodes.map((n) => n.port).join(", ")}`);
    project.provide("ptcRedisUrl", `${CLUSTER_SCHEME}${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`);
    return async () => {
      await cluster.close();
      await cleanup();
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
