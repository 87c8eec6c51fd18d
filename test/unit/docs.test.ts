/**
 * The TypeScript blocks of README.md and docs/*.md compile, and run.
 *
 * Every ```ts block becomes a module in a temp dir under `.tmp/` (inside the
 * repo, so that imports resolve), with:
 * - `"prisma-tiered-cache"` imported from src/index.ts, and
 *   `"./generated/..."` from the repo's generated clients (the docs' app
 *   generates its client to `./generated/prisma`, as the test schema does);
 * - an import of each name of test/support/docs-prelude.ts (`base`,
 *   `prisma`, `redis`, `adapter`) that the block uses and does not declare.
 *
 * All blocks are type-checked in one program, with the repo's compiler
 * options, in a child process (test/support/docs-typecheck.ts); an error is
 * reported at its line in the markdown file. Meanwhile the blocks run, in
 * document order, in this process: on an SQLite file of the test schema,
 * without Redis (`redis` is undefined when they run). A block that cannot
 * run here (it connects to a server, reads a URL from the environment, or
 * needs PostgreSQL's SQL) is marked on the line before its fence:
 *
 *     <!-- docs-test: typecheck-only (why) -->
 *
 * No Postgres or Redis server is started. Relative links of the docs must
 * name files and headings that exist.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { CACHED_READ_OPERATIONS, CachedReadMethods } from "../../src/index";
import type { CheckedModule, TypecheckRequest } from "../support/docs-typecheck";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The names a block may use without declaring them (exported by the prelude). */
const PRELUDE_NAMES = ["base", "prisma", "redis", "adapter"] as const;
const PRELUDE = path.join(ROOT, "test", "support", "docs-prelude.ts");
const PRELUDE_TYPES = path.join(ROOT, "test", "support", "docs-prelude-types.ts");
const TYPECHECK = path.join(ROOT, "test", "support", "docs-typecheck.ts");
const MARKER = /^<!--\s*docs-test:\s*(\S+)(?:\s+\(.*\))?\s*-->$/;

/** Packages the docs show code for that this repo does not install: only their names and shapes, to type-check the rest of the block. */
const STUBS = `
declare module "@prisma/extension-accelerate" {
  /** Prisma Accelerate's client extension. */
  export function withAccelerate(): (client: any) => any;
}
`;

/** One ```ts block of a markdown file. */
interface Block {
  /** The markdown file, relative to the repo. */
  doc: string;
  /** Line of the block's first code line in the markdown file (1-based). */
  line: number;
  code: string;
  /** Type-checked but not run. */
  typecheckOnly: boolean;
}

/** Every ```ts block of `text`, with the directive on the line before its fence. */
function extractBlocks(doc: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(```+|~~~+)\s*(\S*)/.exec(lines[i]!);
    if (!fence) continue;
    const close = fence[2]!;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(close)) end++;
    if (end === lines.length) throw new Error(`${doc}:${i + 1}: a code block that is never closed`);
    if (/^(ts|typescript)$/.test(fence[3]!)) {
      const before = i > 0 ? lines[i - 1]!.trim() : "";
      let typecheckOnly = false;
      if (before.includes("docs-test")) {
        const directive = MARKER.exec(before)?.[1];
        if (directive !== "typecheck-only") throw new Error(`${doc}:${i}: unknown docs-test directive ${JSON.stringify(before)}`);
        typecheckOnly = true;
      }
      blocks.push({ doc, line: i + 2, code: lines.slice(i + 1, end).join("\n"), typecheckOnly });
    }
    i = end;
  }
  return blocks;
}

/** Names declared at the top level of `code`: imports, variables (destructured too), functions, classes, types. */
function topLevelNames(code: string): Set<string> {
  const names = new Set<string>();
  const sf = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const bind = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const s of sf.statements) {
    if (ts.isImportDeclaration(s) && s.importClause) {
      const c = s.importClause;
      if (c.name) names.add(c.name.text);
      if (c.namedBindings && ts.isNamespaceImport(c.namedBindings)) names.add(c.namedBindings.name.text);
      if (c.namedBindings && ts.isNamedImports(c.namedBindings)) for (const e of c.namedBindings.elements) names.add(e.name.text);
    } else if (ts.isVariableStatement(s)) {
      for (const d of s.declarationList.declarations) bind(d.name);
    } else if (
      (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) &&
      s.name
    ) {
      names.add(s.name.text);
    }
  }
  return names;
}

/**
 * The module a block becomes in `dir`, and how many lines come before its
 * code. To type-check it (`check`), the docs' generated client is the
 * Postgres one and the prelude names come from their declarations; to run
 * it (`run`), the client is the SQLite one and the names from the prelude.
 */
function moduleOf(block: Pick<Block, "code">, dir: string, variant: "check" | "run"): { text: string; offset: number } {
  const toRepo = (p: string) => {
    const rel = path.relative(dir, path.join(ROOT, p)).split(path.sep).join("/");
    return rel.startsWith(".") ? rel : `./${rel}`;
  };
  const generated = variant === "check" ? "generated/prisma/" : "generated/prisma-sqlite/";
  const code = block.code.replace(/(from\s+|import\s*\(\s*|import\s+)(["'])([^"']+)\2/g, (all, lead: string, q: string, spec: string) => {
    if (spec === "prisma-tiered-cache") return `${lead}${q}${toRepo("src/index")}${q}`;
    if (spec.startsWith("./generated/prisma/")) return `${lead}${q}${toRepo(generated + spec.slice("./generated/prisma/".length))}${q}`;
    return all;
  });
  const declared = topLevelNames(code);
  const needed = PRELUDE_NAMES.filter((n) => !declared.has(n) && new RegExp(`\\b${n}\\b`).test(code));
  const prelude = toRepo(path.relative(ROOT, variant === "check" ? PRELUDE_TYPES : PRELUDE).replace(/\.ts$/, ""));
  const header = needed.length ? [`import { ${needed.join(", ")} } from "${prelude}";`] : [];
  return { text: [...header, code, "export {};", ""].join("\n"), offset: header.length };
}

/** The markdown files whose blocks are tested: README.md and docs/*.md. */
function docFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/** Type-checks the modules in a child process (test/support/docs-typecheck.ts): the errors of each module. */
async function typecheckInChild(request: TypecheckRequest, requestFile: string): Promise<Record<string, string[]>> {
  writeFileSync(requestFile, JSON.stringify(request));
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", TYPECHECK, requestFile], { cwd: ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Record<string, string[]>;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

/** The anchors of the headings of a markdown file (fenced code skipped; a repeated heading gets `-1`, `-2`, ...). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** Every relative link of a markdown file (outside code) that names a missing file or heading. */
function brokenLinks(doc: string, text: string): string[] {
  const out: string[] = [];
  const prose = text.replace(/^(```|~~~)[\s\S]*?^\1/gm, "").replace(/`[^`\n]*`/g, "");
  for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue;
    const [file, anchor] = target!.split("#") as [string, string | undefined];
    const resolved = file ? path.join(ROOT, path.dirname(doc), file) : path.join(ROOT, doc);
    if (!existsSync(resolved)) out.push(`${doc}: ${target} (no such file)`);
    else if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor))
      out.push(`${doc}: ${target} (no such heading)`);
  }
  return out;
}

/** The public list of cached reads is the set of cached read methods (a compile error otherwise). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const readsMatch: Same<(typeof CACHED_READ_OPERATIONS)[number], keyof CachedReadMethods> = true;

describe("the TypeScript blocks of README.md and docs/", () => {
  mkdirSync(path.join(ROOT, ".tmp"), { recursive: true });
  const dir = mkdtempSync(path.join(ROOT, ".tmp", "docs-"));
  let ran = false;
  afterAll(async () => {
    if (ran) await (await import("../support/docs-prelude")).closeDocsPrelude();
    rmSync(dir, { recursive: true, force: true });
  });

  const blocks = docFiles().flatMap((doc) => extractBlocks(doc, readFileSync(path.join(ROOT, doc), "utf8")));
  const write = (block: Block, name: string): CheckedModule & { block: Block; run: string } => {
    const file = path.join(dir, `${name}.ts`);
    const run = path.join(dir, `${name}.run.ts`);
    const { text, offset } = moduleOf(block, dir, "check");
    writeFileSync(file, text);
    if (!block.typecheckOnly) writeFileSync(run, moduleOf(block, dir, "run").text);
    return { file, doc: block.doc, line: block.line, offset, block, run };
  };
  const modules = blocks.map((block, i) => write(block, `${path.basename(block.doc, ".md")}-${String(i).padStart(2, "0")}-line${block.line}`));
  // A block that cannot compile, checked in the same program: the check must catch it.
  const broken = write({ doc: "(self-check)", line: 1, code: 'const views: number = prisma.post.count({ cache: "no" });', typecheckOnly: true }, "self-check");
  const stubs = path.join(dir, "stubs.d.ts");
  writeFileSync(stubs, STUBS);
  // Started now, so that it type-checks while the blocks run.
  const typechecked = typecheckInChild(
    { modules: [...modules, broken].map(({ file, doc, line, offset }) => ({ file, doc, line, offset })), extra: [stubs] },
    path.join(dir, "typecheck.json"),
  ).then(
    (errors) => ({ errors }),
    (error: unknown) => ({ error }),
  );

  it("finds blocks in README.md and in docs/", () => {
    expect(readsMatch).toBe(true);
    expect(blocks.filter((b) => b.doc === "README.md").length).toBeGreaterThan(0);
    expect(new Set(blocks.map((b) => b.doc)).size).toBeGreaterThan(3);
  });

  it("links to files and headings that exist", () => {
    const docs = [...docFiles(), "bench/README.md"];
    expect(docs.flatMap((doc) => brokenLinks(doc, readFileSync(path.join(ROOT, doc), "utf8")))).toEqual([]);
  });

  it("runs every block not marked typecheck-only, without servers", async () => {
    const quiet = (["log", "info", "debug", "warn"] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
    try {
      for (const { run, block } of modules) {
        if (block.typecheckOnly) continue;
        ran = true;
        try {
          await import(/* @vite-ignore */ pathToFileURL(run).href);
        } catch (e) {
          throw new Error(`${block.doc}:${block.line}: the block threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
      }
    } finally {
      for (const spy of quiet) spy.mockRestore();
    }
  }, 60_000);

  it("type-checks every block", async () => {
    const result = await typechecked;
    if ("error" in result) throw result.error;
    expect(result.errors[broken.file]?.length, "a block that does not compile is reported").toBeGreaterThan(0);
    expect(modules.flatMap((m) => result.errors[m.file] ?? [])).toEqual([]);
  }, 60_000);
});
