/**
 * The library under test. By default the benchmarks load a fresh tsup build
 * of src/ (ESM, the options of tsup.config.ts, minus type declarations), so
 * they measure the code as it ships. `BENCH_SOURCE=src` loads src/ through
 * tsx instead. tsx compiles with esbuild's `keepNames`, which wraps every
 * named function or closure created at run time in a `__name(fn, "...")` call
 * (an Object.defineProperty): a hot path that creates closures per call gets
 * slower under tsx than as shipped (the L1 hit path before 7535cd4, which
 * made several closures per read: 4.5 µs under tsx, 2.4 µs built).
 * @module
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

type Index = typeof import("../../src/index");
type Codec = typeof import("../../src/codec");

/** What the benchmarks use of the library. */
export interface Library {
  prismaCache: Index["prismaCache"];
  cacheScope: Index["cacheScope"];
  decode: Codec["decode"];
  /** How it was loaded, for results.json. */
  source: string;
  /** URL of the module it was loaded from, for child processes (the built index.mjs, or src/index.ts). */
  indexUrl: string;
  /** Removes the build, if any. */
  dispose(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Loads the library: `"build"` (tsup build of src/index.ts and src/codec.ts
 * into node_modules/.cache, so that bare imports such as `@prisma/client`
 * resolve to the project's copies) or `"src"` (src/ through tsx).
 */
export async function loadLibrary(mode: "build" | "src" = process.env.BENCH_SOURCE === "src" ? "src" : "build"): Promise<Library> {
  if (mode === "src") {
    const [index, codec] = await Promise.all([import("../../src/index"), import("../../src/codec")]);
    return {
      prismaCache: index.prismaCache,
      cacheScope: index.cacheScope,
      decode: codec.decode,
      source: "src/ via tsx (esbuild keepNames on)",
      indexUrl: new URL("../../src/index.ts", import.meta.url).href,
      dispose: async () => undefined,
    };
  }
  const built = await buildSrc(ROOT);
  const indexUrl = pathToFileURL(path.join(built.outDir, "index.mjs")).href;
  const index = (await import(indexUrl)) as Index;
  const codec = (await import(pathToFileURL(path.join(built.outDir, "codec.mjs")).href)) as Codec;
  return {
    prismaCache: index.prismaCache,
    cacheScope: index.cacheScope,
    decode: codec.decode,
    source: "tsup build of src/ (esm, node20, as shipped)",
    indexUrl,
    dispose: built.dispose,
  };
}

/** The library as it was at an earlier commit, built like the current one. */
export interface ReferenceLibrary {
  /** The commit, as given and as resolved. */
  source: string;
  /** URL of its built index.mjs. */
  indexUrl: string;
  dispose(): Promise<void>;
}

/**
 * Builds src/ as it was at git revision `ref` (extracted with `git archive`
 * into node_modules/.cache, so its bare imports resolve to this checkout's
 * packages), for same-run comparisons with the current code.
 */
export async function loadReference(ref: string): Promise<ReferenceLibrary> {
  const dir = path.join(ROOT, "node_modules", ".cache", "ptc-bench", `ref-${randomBytes(4).toString("hex")}`);
  await mkdir(dir, { recursive: true });
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", ref], { cwd: ROOT }).toString().trim();
    execFileSync("sh", ["-c", `git archive ${sha} src tsconfig.json | tar -x -C "${dir}"`], { cwd: ROOT });
    const built = await buildSrc(dir, { codec: false });
    return {
      source: `${ref} (${sha}), tsup build`,
      indexUrl: pathToFileURL(path.join(built.outDir, "index.mjs")).href,
      dispose: async () => {
        await built.dispose();
        await rm(dir, { recursive: true, force: true });
        await rmdir(path.dirname(dir)).catch(() => undefined); // only if empty
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** tsup build of `<root>/src/index.ts` (and codec.ts) into node_modules/.cache, as shipped (ESM, node20). */
async function buildSrc(root: string, parts: { codec?: boolean } = {}): Promise<{ outDir: string; dispose(): Promise<void> }> {
  const { build } = await import("tsup");
  const outDir = path.join(ROOT, "node_modules", ".cache", "ptc-bench", randomBytes(4).toString("hex"));
  const entry: Record<string, string> = { index: path.join(root, "src/index.ts") };
  if (parts.codec !== false) entry.codec = path.join(root, "src/codec.ts");
  try {
    await build({
      config: false,
      entry,
      format: ["esm"],
      target: "node20",
      // Same externals as tsup.config.ts, plus Prisma's subpaths.
      external: ["@prisma/client", /^@prisma\/client\//, "ioredis", "lru-cache", "zod"],
      outDir,
      // .mjs: node_modules/.cache has no package.json saying "type": "module".
      outExtension: () => ({ js: ".mjs" }),
      dts: false,
      sourcemap: false,
      clean: false,
      silent: true,
      tsconfig: path.join(root, "tsconfig.json"),
    });
    return {
      outDir,
      dispose: async () => {
        await rm(outDir, { recursive: true, force: true });
        await rmdir(path.dirname(outDir)).catch(() => undefined); // only if empty
      },
    };
  } catch (err) {
    await rm(outDir, { recursive: true, force: true });
    throw err;
  }
}
