/**
 * Type-checks the modules test/unit/docs.test.ts made of the docs' TypeScript
 * blocks, in one program with the repo's compiler options, and reports each
 * error at its line in the markdown file. A separate OS process, run with
 * `node --import tsx test/support/docs-typecheck.ts <request.json>`, so that
 * the test runs the blocks meanwhile; it prints the errors of each module as
 * JSON (`{ [file]: ["doc:line: TSnnnn message", ...] }`).
 * @module
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A module to check, and where its code came from. */
export interface CheckedModule {
  file: string;
  /** The markdown file, relative to the repo. */
  doc: string;
  /** Line of the block's first code line in `doc` (1-based). */
  line: number;
  /** Lines the module has before the block's code. */
  offset: number;
}

/** What the process is asked: the modules, and other files the program needs (declarations). */
export interface TypecheckRequest {
  modules: CheckedModule[];
  extra: string[];
}

/** The errors of each module, as `doc:line: TSnnnn message`. */
export function typecheck({ modules, extra }: TypecheckRequest): Record<string, string[]> {
  const config = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
  const { options, errors } = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, ROOT);
  if (errors.length) throw new Error(errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, "\n")).join("\n"));
  const program = ts.createProgram({ rootNames: [...modules.map((m) => m.file), ...extra], options: { ...options, noEmit: true } });
  const out: Record<string, string[]> = {};
  for (const m of modules) {
    const sf = program.getSourceFile(m.file);
    if (!sf) throw new Error(`${m.file} is not in the program`);
    out[m.file] = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => {
      const at = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line - m.offset;
      return `${m.doc}:${m.line + at}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const request = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as TypecheckRequest;
  process.stdout.write(JSON.stringify(typecheck(request)));
}
