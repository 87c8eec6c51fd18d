import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  external: ["@prisma/client", "ioredis", "lru-cache", "zod", "pg", "pg-logical-replication", "@vlasky/zongji", "mysql2", "better-sqlite3"],
});
