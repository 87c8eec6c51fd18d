import { configDefaults, defineConfig } from "vitest/config";

/**
 * Two projects: everything, then the demo on its own. The demo starts an
 * app in a child process and checks that none of its Redis commands timed
 * out; run alongside files that fork several processes of their own, a
 * 2-core machine can starve it past `redisTimeout`.
 */
const DEMO = "test/integration/demo.test.ts";

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
        test: { name: "demo", include: [DEMO], globalSetup: ["test/setup/global.ts"], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
