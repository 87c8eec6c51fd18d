/**
 * `npm pack` from a fresh clone ships what `exports` names: the clone has no
 * `dist/`, so the tarball holds a build only if packing builds first
 * (`prepack`). The clone borrows the repo's node_modules (a link), so nothing
 * reaches the network. What is checked is the committed HEAD.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { readManifest, ROOT } from "./tarball";

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), "ptc-clone-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every file path an `exports` map names (conditions nested at any depth). */
function exportedPaths(exports: unknown): string[] {
  if (typeof exports === "string") return [exports.replace(/^\.\//, "")];
  if (exports === null || typeof exports !== "object") return [];
  return Object.values(exports).flatMap(exportedPaths);
}

describe("npm pack from a fresh clone", () => {
  it("builds first, and the tarball holds every path exports names", async () => {
    const clone = path.join(work, "clone");
    await exec("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone]);
    symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
    const out = path.join(work, "out");
    mkdirSync(out);
    await exec("npm", ["pack", "--pack-destination", out, "--silent"], { cwd: clone, maxBuffer: 64 * 2 ** 20 });
    const manifest = readManifest(clone);
    const tarball = path.join(out, `${manifest.name}-${manifest.version}.tgz`);
    const listed = (await exec("tar", ["tzf", tarball])).stdout
      .split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ""));
    const wanted = exportedPaths(manifest.exports);
    expect(wanted.length).toBeGreaterThan(3);
    expect(wanted.filter((p) => !listed.includes(p))).toEqual([]);
  }, 180_000);
});
