/**
 * What the three dialects' recognisers share: walking a token range, names,
 * `WITH` clauses, `SET` lists, the scan that rejects what it does not
 * follow, and the set of written tables they fill.
 * @module
 */
import { fold, T, type Tok } from "./lexer.js";
import type { ColumnRef, WriteOp, WrittenTable } from "./types.js";

/** Thrown (and caught by the caller of {@link Recogniser.statement}) when the SQL is not understood. */
export const UNKNOWN = Symbol("unknown SQL");

/** A table name as the recognisers carry it. */
export interface Name {
  schema?: string;
  name: string;
  quoted: boolean;
}

/** Where a statement's words are: the part of the statement {@link Recogniser.scan} walks. */
export type ScanMode = "read" | "insert" | "update" | "delete" | "merge";

/** The written tables, deduplicated per table and op; filled by one or more recognisers. */
export class Sink {
  readonly tables: WrittenTable[] = [];
  private readonly seen = new Map<string, WrittenTable>();
  /** A `TRUNCATE ... CASCADE` was seen. */
  cascade = false;

  /**
   * @param caseBlind Whether names are reported as written and compare
   * without regard to (ASCII) case (MySQL, SQLite), rather than folded and
   * quoted as Postgres does.
   */
  constructor(readonly caseBlind: boolean) {}

  /** Records a write; columns of one table and op are merged (unknown columns win). */
  add(name: Name, op: WriteOp, columns?: ColumnRef[]): void {
    const key = (s: string): string => (this.caseBlind ? fold(s) : s);
    const id = `${op}\0${key(name.schema ?? "")}\0${name.quoted ? "q" : "u"}\0${key(name.name)}`;
    const existing = this.seen.get(id);
    if (existing === undefined) {
      const entry: WrittenTable = { ...name, op };
      if (columns !== undefined) entry.columns = [...columns];
      this.tables.push(entry);
      this.seen.set(id, entry);
    } else if (existing.columns !== undefined) {
      if (columns === undefined) delete existing.columns;
      else for (const c of columns) if (!existing.columns.some((e) => key(e.name) === key(c.name) && e.quoted === c.quoted)) existing.columns.push(c);
    }
  }
}

/**
 * A recogniser for one dialect: {@link statement} recognises one statement
 * (a `;`-free token range) and adds what it writes to the sink, or throws
 * {@link UNKNOWN}.
 */
export abstract class Recogniser {
  protected pos = 0;
  protected end = 0;

  constructor(
    protected readonly toks: readonly Tok[],
    protected readonly match: Int32Array,
    protected readonly sink: Sink,
  ) {}

  /** Recognise the statement in `[start, end)`; consumes all of it or throws {@link UNKNOWN}. */
  statement(start: number, end: number): void {
    const savedPos = this.pos;
    const savedEnd = this.end;
    this.pos = start;
    this.end = end;
    if (this.isWord("with")) this.withClause();
    this.main();
    if (this.pos !== this.end) throw UNKNOWN;
    this.pos = savedPos;
    this.end = savedEnd;
  }

  /** The statement at `pos` (after any `WITH` clause). */
  protected abstract main(): void;

  /**
   * `toks[i]` is a word that {@link scan} must look at (one of
   * {@link writeWords}): returns true for the `UPDATE` of an upsert, false
   * when it is allowed, or throws {@link UNKNOWN}.
   */
  protected abstract writeWord(i: number, mode: ScanMode): boolean;

  /** Words {@link scan} passes to {@link writeWord}. */
  protected abstract readonly writeWords: ReadonlySet<string>;

  /** `toks[i]` is a token other than an operator, followed by `(`: returns if this is not a call to a function that may write, else throws. */
  protected abstract checkCall(i: number): void;

  // -- token helpers

  protected tok(i = this.pos): Tok | undefined {
    return i < this.end ? this.toks[i] : undefined;
  }
  protected isWord(w: string, i = this.pos): boolean {
    const t = this.tok(i);
    return t !== undefined && t.t === T.Word && t.v === w;
  }
  protected isOp(v: string, i = this.pos): boolean {
    const t = this.tok(i);
    return t !== undefined && t.t === T.Op && t.v === v;
  }
  /** The word before `toks[i]`, or "". */
  protected wordBefore(i: number): string {
    const prev = this.toks[i - 1];
    return prev !== undefined && prev.t === T.Word ? prev.v : "";
  }
  protected expectWord(w: string): void {
    if (!this.isWord(w)) throw UNKNOWN;
    this.pos++;
  }
  /** Skips any of `words` at `pos`, in any order. */
  protected skipWords(words: ReadonlySet<string>): void {
    for (let t = this.tok(); t !== undefined && t.t === T.Word && words.has(t.v); t = this.tok()) this.pos++;
  }
  /** An identifier at `pos`: its name (case-blind dialects: as written) and whether it was quoted. */
  protected ident(): { v: string; quoted: boolean } {
    const t = this.tok();
    if (t === undefined || (t.t !== T.Word && t.t !== T.QId)) throw UNKNOWN;
    this.pos++;
    if (this.sink.caseBlind) return { v: t.raw ?? t.v, quoted: false };
    return { v: t.v, quoted: t.t === T.QId };
  }
  /** `name`, `schema.name` or (with `maxParts` 3) `catalog.schema.name`. */
  protected name(maxParts: 2 | 3): Name {
    const parts = [this.ident()];
    while (this.isOp(".")) {
      this.pos++;
      parts.push(this.ident());
    }
    if (parts.length > maxParts) throw UNKNOWN;
    const last = parts[parts.length - 1]!;
    const name: Name = { name: last.v, quoted: last.quoted };
    if (parts.length > 1) name.schema = parts[parts.length - 2]!.v;
    return name;
  }
  /** The column an identifier token names, or `undefined` for another token. */
  protected column(i: number): ColumnRef | undefined {
    const t = this.tok(i);
    if (t === undefined || (t.t !== T.Word && t.t !== T.QId)) return undefined;
    return this.sink.caseBlind ? { name: t.raw ?? t.v, quoted: false } : { name: t.v, quoted: t.t === T.QId };
  }

  // -- shared clauses

  /**
   * The statement's first word; a read (`(`, or a word of `reads`: `SELECT`,
   * `VALUES`, ...) is scanned instead, and `undefined` returned.
   */
  protected firstWord(reads: ReadonlySet<string>): string | undefined {
    const t = this.tok();
    if (t === undefined || (t.t !== T.Word && !(t.t === T.Op && t.v === "("))) throw UNKNOWN;
    if (t.t === T.Word && !reads.has(t.v)) return t.v;
    this.scan("read");
    return undefined;
  }

  /** `WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (statement), ...`; each body is recognised as a statement. */
  private withClause(): void {
    this.pos++;
    if (this.isWord("recursive")) this.pos++;
    for (;;) {
      this.ident();
      if (this.isOp("(")) this.pos = this.match[this.pos]! + 1;
      this.expectWord("as");
      if (this.isWord("not")) this.pos++;
      if (this.isWord("materialized")) this.pos++;
      if (!this.isOp("(")) throw UNKNOWN;
      const close = this.match[this.pos]!;
      this.statement(this.pos + 1, close);
      this.pos = close + 1;
      // SEARCH / CYCLE clauses of recursive CTEs are not followed.
      if (!this.isOp(",")) return;
      this.pos++;
    }
  }

  /**
   * From `j`, the first token after a value expression: a `,` outside
   * parentheses and brackets, a word of `stops`, or the end (`end`).
   */
  protected skipValue(j: number, stops: ReadonlySet<string>): number {
    let brackets = 0;
    for (;;) {
      const t = this.tok(j);
      if (t === undefined) return this.end;
      if (t.t === T.Op && t.v === "(") j = this.match[j]! + 1;
      else if (t.t === T.Op && t.v === "[") brackets++, j++;
      else if (t.t === T.Op && t.v === "]") brackets--, j++;
      else if (brackets === 0 && ((t.t === T.Op && t.v === ",") || (t.t === T.Word && stops.has(t.v)))) return j;
      else j++;
    }
  }

  /**
   * The columns a `SET` list assigns, read ahead from `j` (just after `SET`)
   * without consuming: `col = ...`, `(a, b) = ...`, `col.field = ...`,
   * `col[i] = ...`; `undefined` when not followed. The list ends at a word
   * of `stops` outside parentheses.
   */
  protected assignments(j: number, stops: ReadonlySet<string>): ColumnRef[] | undefined {
    const out: ColumnRef[] = [];
    for (;;) {
      if (this.isOp("(", j)) {
        const close = this.match[j]!;
        for (let k = j + 1; k < close; k += 2) {
          const c = this.column(k);
          if (c === undefined || (k + 1 < close && !this.isOp(",", k + 1))) return undefined;
          out.push(c);
        }
        j = close + 1;
      } else {
        const c = this.column(j);
        if (c === undefined) return undefined;
        out.push(c);
        j++;
        // col.subfield / col[subscript]
        while (this.isOp(".", j) || this.isOp("[", j)) {
          if (this.isOp(".", j)) j += 2;
          else {
            let depth = 0;
            do {
              if (this.isOp("[", j)) depth++;
              else if (this.isOp("]", j)) depth--;
              j++;
            } while (depth > 0 && j < this.end);
          }
        }
      }
      if (!this.isOp("=", j)) return undefined;
      j = this.skipValue(j + 1, stops);
      if (!this.isOp(",", j)) return out;
      j++;
    }
  }

  /**
   * Walk the rest of the statement: reject data-modifying keywords out of
   * place (see {@link writeWord}) and calls to functions that may write.
   * Returns whether an upsert's `UPDATE` was seen.
   */
  protected scan(mode: ScanMode): boolean {
    let upsert = false;
    for (; this.pos < this.end; this.pos++) {
      const i = this.pos;
      const t = this.toks[i]!;
      if (t.t === T.Word && this.writeWords.has(t.v) && this.writeWord(i, mode)) upsert = true;
      if (t.t !== T.Op && this.isOp("(", i + 1)) this.checkCall(i);
    }
    return upsert;
  }

  /**
   * The strict call check of MySQL and SQLite: `name(` is allowed when
   * `name` is a known read-only built-in or a reserved word that takes
   * parentheses, when `keyword(name, prev)` says it is a keyword where it
   * stands (a keyword that may also name a function), or when it follows `)`
   * or `AS` (a derived table's column list, a type in `CAST(x AS DECIMAL(10,
   * 2))`). Anything else, a qualified name or a quoted one included, may be a
   * function that writes.
   */
  protected strictCheckCall(
    i: number,
    safe: ReadonlySet<string>,
    notCalls: ReadonlySet<string>,
    keyword: (name: string, prev: Tok | undefined) => boolean,
  ): void {
    const t = this.toks[i]!;
    const prev = this.toks[i - 1];
    if (prev !== undefined && prev.t === T.Op && prev.v === ".") throw UNKNOWN;
    if (t.t === T.Word && (safe.has(t.v) || notCalls.has(t.v) || keyword(t.v, prev))) return;
    if ((t.t === T.Word || t.t === T.QId) && prev !== undefined && ((prev.t === T.Op && prev.v === ")") || (prev.t === T.Word && prev.v === "as"))) return;
    throw UNKNOWN;
  }
}

/** A set of words from a space-separated list. */
export const words = (list: string): ReadonlySet<string> => new Set(list.split(" "));
