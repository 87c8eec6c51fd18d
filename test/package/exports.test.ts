import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

describe("published package", () => {
  beforeAll(() => {
    execFileSync("npx", ["tsup", "--silent"], { cwd: root, stdio: "pipe" });
  }, 120_000);

  it("exposes ESM and CJS builds with type declarations through the exports map", async () => {
    const pkg = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { exports: Record<string, Record<string, Record<string, string>>> };
    const esm = (await import(resolve(root, pkg.exports["."]!.import!.default!))) as Record<string, unknown>;
    const cjs = createRequire(import.meta.url)(resolve(root, pkg.exports["."]!.require!.default!)) as Record<string, unknown>;
    for (const mod of [esm, cjs]) {
      expect(typeof mod.prismaCache).toBe("function");
      expect(typeof mod.CacheConfigError).toBe("function");
    }
    for (const types of [pkg.exports["."]!.import!.types!, pkg.exports["."]!.require!.types!]) {
      const dts = readFileSync(resolve(root, types), "utf8");
      expect(dts).toContain("declare function prismaCache");
      // Public types carry no `any` (comments aside).
      const code = dts.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      expect(code).not.toMatch(/\bany\b/);
    }
  });

  it("validates options in both builds", async () => {
    const cjs = createRequire(import.meta.url)(resolve(root, "dist/index.cjs")) as { prismaCache: (o: unknown) => unknown };
    expect(() => cjs.prismaCache({ ttl: -1 })).toThrow(/ttl/);
  });
});
