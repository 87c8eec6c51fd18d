/**
 * CONTRIBUTING.md against the code it describes: its test matrix is what
 * `npm run docs:matrix` writes from vitest.config.ts, and its layout names
 * every file under src/ (and no file that is not there).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { matrixSection, projects, ROOT, sectionOf } from "../../scripts/test-matrix";

const contributing = readFileSync(join(ROOT, "CONTRIBUTING.md"), "utf8");

/** Every file under `dir` (relative to the root), recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
}

/** The code block of the section headed `## The layout`. */
function layoutBlock(markdown: string): string {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("The layout"));
  const block = section && /```\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("CONTRIBUTING.md has no code block under ## The layout");
  return block;
}

/** `text` with everything inside parentheses (nested, across lines) blanked: descriptions, not names. */
function withoutParentheses(text: string): string {
  let depth = 0;
  let out = "";
  for (const c of text) {
    if (c === "(") depth++;
    out += depth > 0 && c !== "\n" ? " " : c;
    if (c === ")" && depth > 0) depth--;
  }
  return out;
}

/**
 * The source files the layout names. A line that starts with `src/` names a
 * file (`src/keys.ts  canonical arguments ...`) or opens a directory
 * (`src/tiers/  memory.ts (L1), redis.ts (L2), ...`); the rest of a
 * directory's line, and the indented lines under it, name its files by
 * name (`  extension.ts  prismaCache(): ...`, `  flight.ts, fill.ts,
 * policy.ts  ...`) or by a path below it (`sql/lexer.ts`). Text in
 * parentheses is description and names nothing.
 */
function namedInLayout(block: string): Set<string> {
  const named = new Set<string>();
  let dir: string | undefined;
  for (const line of withoutParentheses(block).split("\n")) {
    let rest = line;
    if (line.startsWith("src/")) {
      const path = line.split(/\s/, 1)[0]!;
      rest = line.slice(path.length);
      if (path.endsWith("/")) dir = path;
      else {
        named.add(path);
        dir = undefined;
        continue;
      }
    }
    if (dir === undefined) continue;
    for (const m of rest.matchAll(/(?<![\w./-])((?:[\w-]+\/)*[\w.-]+\.ts)\b/g)) named.add(dir + m[1]);
  }
  return named;
}

describe("CONTRIBUTING.md", () => {
  it("has the test matrix `npm run docs:matrix` writes from vitest.config.ts", () => {
    const section = sectionOf(contributing);
    expect(section, "CONTRIBUTING.md lacks the <!-- matrix:start --> … <!-- matrix:end --> section").toBeDefined();
    expect(section, "CONTRIBUTING.md's test matrix differs from vitest.config.ts: run `npm run docs:matrix`").toBe(matrixSection());
  });

  it("runs every test file under test/ in some project, and type-checks the type tests", () => {
    const run = new Set(projects().flatMap((p) => p.files));
    const tests = filesUnder("test").filter((f) => /\.test\.ts$/.test(f));
    expect(tests.filter((f) => !run.has(f))).toEqual([]);
    // The type tests (*.test-d.ts) run nothing: `npm run typecheck` (tsc over tsconfig.json's include, before vitest in `npm test`) checks them.
    expect(filesUnder("test").filter((f) => /\.test-d\.ts$/.test(f)).length).toBeGreaterThan(0);
    const tsconfig = JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")) as { include: string[] };
    expect(tsconfig.include).toContain("test");
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.test).toMatch(/^npm run typecheck && /);
  });

  it("names every file under src/ in its layout, and no file that is not there", () => {
    const named = namedInLayout(layoutBlock(contributing));
    const files = filesUnder("src").sort();
    expect(
      files.filter((f) => !named.has(f)),
      "files under src/ that CONTRIBUTING.md's layout does not name",
    ).toEqual([]);
    expect([...named].filter((f) => !files.includes(f)).sort(), "files CONTRIBUTING.md's layout names that are not under src/").toEqual([]);
  });

  it("reads the layout's formats (a check of the check)", () => {
    const block = [
      "src/index.ts            public exports (not errors.ts)",
      "src/prisma/             the seam",
      "  extension.ts            prismaCache()",
      "  flight.ts, fill.ts      two at once",
      "src/tiers/              memory.ts (L1, not entry.ts), redis.ts",
      "                        versions.ts (counters,",
      "                        still described: bumps.ts)",
      "src/deps/               sql/lexer.ts",
      "src/stats.ts            stats",
      "  orphan.ts",
    ].join("\n");
    expect([...namedInLayout(block)].sort()).toEqual([
      "src/deps/sql/lexer.ts",
      "src/index.ts",
      "src/prisma/extension.ts",
      "src/prisma/fill.ts",
      "src/prisma/flight.ts",
      "src/stats.ts",
      "src/tiers/memory.ts",
      "src/tiers/redis.ts",
      "src/tiers/versions.ts",
    ]);
  });
});
