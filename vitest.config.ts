import { configDefaults, defineConfig } from "vitest/config";

/**
 * Four projects: everything on one Redis, then the suites that also run
 * on a Redis Cluster, then those with fail-fast client options, then the
 * demo on its own. The demo starts an
 * app in a child process and checks that none of its Redis commands timed
 * out; run alongside files that fork several processes of their own, a
 * 2-core machine can starve it past `redisTimeout`.
 */
const DEMO = "test/integration/demo.test.ts";

/**
 * The suites that run again with a Redis Cluster (three masters) as the
 * shared tier, and again with the fail-fast client options.
 */
const ON_CLUSTER = ["read-path", "precision", "invalidation", "coherence", "lease", "dogpile"].map((f) => `test/integration/${f}.test.ts`);

export default defineConfig({
  test: {
    pool: "forks",
    reporters: ["default", "./test/setup/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          globalSetup: ["test/setup/global.ts"],
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, DEMO],
          sequence: { groupOrder: 0 },
          typecheck: {
            enabled: true,
            include: ["test/types/**/*.test-d.ts"],
            tsconfig: "tsconfig.json",
          },
        },
      },
      {
        extends: true,
        test: { name: "cluster", include: ON_CLUSTER, globalSetup: ["test/setup/global-cluster.ts"], sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: "fail-fast",
          include: ON_CLUSTER,
          globalSetup: ["test/setup/global.ts"],
          env: { PTC_REDIS_OPTIONS: "fail-fast" },
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: { name: "demo", include: [DEMO], globalSetup: ["test/setup/global.ts"], sequence: { groupOrder: 3 } },
      },
    ],
  },
});
