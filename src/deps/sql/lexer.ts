/**
 * One tokenizer for the three SQL dialects the raw-SQL parser reads, with a
 * dialect switch where their lexical rules differ:
 *
 * | | PostgreSQL | MySQL / MariaDB | SQLite |
 * | --- | --- | --- | --- |
 * | `"x"` | identifier | string (default `sql_mode`) | identifier |
 * | `` `x` `` | identifier | identifier | identifier |
 * | `[x]` | operator | operator | identifier |
 * | `'x'` escapes | `''`; backslash only in `E'...'` | `''` and backslash (unless `NO_BACKSLASH_ESCAPES`) | `''` |
 * | `--` | comment to `\r` or `\n` | comment to `\n`, only when a space or control character follows | comment to `\n` |
 * | `#` | operator | comment to `\n` | operator |
 * | `/* *\/` | nested | not nested; `/*!...*\/` and `/*M!...*\/` are SQL | not nested; may run to the end of input |
 * | `$` | `$1` parameter, `$$` / `$tag$` quote | identifier character | `$name` parameter |
 *
 * Where MySQL's reading depends on server settings (`sql_mode`, the server
 * version an executable comment names), {@link lex} reports it, and the
 * caller lexes again under each reading ({@link LexOptions}).
 * @module
 */
import type { SqlDialect } from "./types.js";

/** Token kinds. */
export const T = {
  /** Unquoted identifier or keyword, lower-cased (ASCII). */
  Word: 0,
  /** Quoted identifier, exact. */
  QId: 1,
  /** String literal (content dropped). */
  Str: 2,
  Num: 3,
  Param: 4,
  /** Operator or punctuation, one character (or `::`). */
  Op: 5,
} as const;

/** A token. */
export interface Tok {
  t: (typeof T)[keyof typeof T];
  /** The token's value: lower-cased for a word, exact for a quoted identifier, empty for a string. */
  v: string;
  /** A word as written, when it differs from `v` (MySQL and SQLite only, which report names as written). */
  raw?: string;
}

/** How to lex: the dialect, and for MySQL which reading of the server-dependent parts. */
export interface LexOptions {
  dialect: SqlDialect;
  /** MySQL: backslash escapes in `'...'` strings (off under `NO_BACKSLASH_ESCAPES`). */
  singleBackslash?: boolean;
  /** MySQL: backslash escapes in `"..."` (off under `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES`). */
  doubleBackslash?: boolean;
  /** MySQL: whether versioned or MariaDB-only executable comments run (their content is SQL) or not. */
  conditional?: boolean;
}

/** What {@link lex} returns. */
export interface Lexed {
  toks: Tok[];
  /** MySQL: a string literal holds a backslash, so the tokens may differ under another `sql_mode`. */
  backslash: boolean;
  /**
   * MySQL: the condition of the executable comments whose running depends on
   * the server (`"50700"` for `/*!50700`, `"M"` or `"M100500"` for `/*M!`),
   * or `"mixed"` when they do not all share one.
   */
  condition?: string;
}

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isWordStart = (c: number): boolean => isAlpha(c) || c === 95 || c >= 128;
const isWordPart = (c: number): boolean => isWordStart(c) || isDigit(c) || c === 36;
const isTagPart = (c: number): boolean => isAlpha(c) || c === 95 || isDigit(c) || c >= 128;
/** ASCII-only lower-casing, as Postgres folds unquoted identifiers (and the three dialects fold keywords). */
export const fold = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Thrown inside the lexer for input it does not accept. */
const REJECT = Symbol("reject");

/** Tokenize; `undefined` on an unterminated literal, comment or identifier, or (MySQL) a comment it cannot read safely. */
export function lex(src: string, options: LexOptions): Lexed | undefined {
  const out: Lexed = { toks: [], backslash: false };
  try {
    lexInto(src, 0, src.length, options, out, false);
  } catch (err) {
    if (err === REJECT) return undefined;
    throw err;
  }
  return out;
}

function lexInto(src: string, from: number, n: number, o: LexOptions, out: Lexed, inComment: boolean): void {
  const pg = o.dialect === "postgresql";
  const my = o.dialect === "mysql";
  const lite = o.dialect === "sqlite";
  const toks = out.toks;
  let i = from;
  /** End index (exclusive) of a literal quoted with `q` opening at `start`; rejects an unterminated one. */
  const quoted = (start: number, q: number, backslash: boolean): number => {
    let j = start + 1;
    while (j < n) {
      const c = src.charCodeAt(j);
      if (c === 92 && my) out.backslash = true;
      if (backslash && c === 92) j += 2;
      else if (c === q) {
        if (src.charCodeAt(j + 1) === q) j += 2;
        else return j + 1;
      } else j++;
    }
    throw REJECT;
  };
  /** A line comment from `i`: skip past the end of the line (inside a MySQL executable comment: not read). */
  const lineComment = (): void => {
    if (inComment) throw REJECT;
    // Postgres ends a line comment at \r as well as \n; MySQL and SQLite only at \n.
    let j = i + 1;
    while (j < n) {
      const a = src.charCodeAt(j);
      if (a === 10 || (a === 13 && pg)) break;
      j++;
    }
    i = j + 1;
  };
  while (i < n) {
    const c = src.charCodeAt(i);
    const d = i + 1 < n ? src.charCodeAt(i + 1) : Number.NaN;
    if (isSpace(c)) {
      i++;
    } else if (c === 45 && d === 45 && (!my || !(src.charCodeAt(i + 2) > 32 && src.charCodeAt(i + 2) !== 127))) {
      // -- comment (MySQL: only when a space or control character, or the end, follows)
      lineComment();
    } else if (c === 35 && my) {
      lineComment();
    } else if (c === 47 && d === 42) {
      if (pg) {
        // /* nested */ comment
        let depth = 1;
        i += 2;
        while (depth > 0) {
          if (i >= n) throw REJECT;
          const a = src.charCodeAt(i);
          const b = src.charCodeAt(i + 1);
          if (a === 47 && b === 42) depth++, (i += 2);
          else if (a === 42 && b === 47) depth--, (i += 2);
          else i++;
        }
      } else {
        const end = src.indexOf("*/", i + 2);
        if (lite) {
          // SQLite: not nested; an unterminated comment runs to the end of the input.
          i = end < 0 || end + 2 > n ? n : end + 2;
          continue;
        }
        if (inComment || end < 0 || end + 2 > n) throw REJECT;
        // MySQL does not nest comments (and says some versions might): a `/*` inside one is not read.
        const inner = src.indexOf("/*", i + 2);
        if (inner >= 0 && inner < end) throw REJECT;
        mysqlComment(src, i, end, o, out);
        i = end + 2;
      }
    } else if (c === 39) {
      const end = quoted(i, 39, my && o.singleBackslash !== false);
      toks.push({ t: T.Str, v: "" });
      i = end;
    } else if (c === 34 && my) {
      const end = quoted(i, 34, o.doubleBackslash !== false);
      toks.push({ t: T.Str, v: "" });
      i = end;
    } else if (c === 34 || c === 96 || (c === 91 && lite)) {
      // "quoted identifier" ("" escapes), `backtick` (`` escapes), SQLite's [bracketed] (no escapes)
      const close = c === 91 ? 93 : c;
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= n) throw REJECT;
        const a = src.charCodeAt(j);
        if (a === close) {
          if (c !== 91 && src.charCodeAt(j + 1) === close) {
            v += src[j];
            j += 2;
            continue;
          }
          break;
        }
        v += src[j];
        j++;
      }
      if (v === "") throw REJECT;
      toks.push({ t: T.QId, v });
      i = j + 1;
    } else if (c === 36 && pg) {
      // $1 parameter, $$ or $tag$ dollar quote
      if (isDigit(d)) {
        let j = i + 1;
        while (j < n && isDigit(src.charCodeAt(j))) j++;
        toks.push({ t: T.Param, v: src.slice(i, j) });
        i = j;
        continue;
      }
      let j = i + 1;
      if (isWordStart(d)) while (j < n && isTagPart(src.charCodeAt(j))) j++;
      if (src.charCodeAt(j) !== 36) {
        toks.push({ t: T.Op, v: "$" });
        i++;
        continue;
      }
      const tag = src.slice(i, j + 1);
      const end = src.indexOf(tag, j + 1);
      if (end < 0 || end + tag.length > n) throw REJECT;
      toks.push({ t: T.Str, v: "" });
      i = end + tag.length;
    } else if (c === 36 && lite && isWordPart(d)) {
      // SQLite $name parameter
      let j = i + 1;
      while (j < n && isWordPart(src.charCodeAt(j))) j++;
      toks.push({ t: T.Param, v: src.slice(i, j) });
      i = j;
    } else if (isWordStart(c) || (c === 36 && my)) {
      let j = i + 1;
      while (j < n && isWordPart(src.charCodeAt(j))) j++;
      const word = src.slice(i, j);
      if (pg && prefixedLiteral(word, j)) continue;
      const v = fold(word);
      toks.push(pg || v === word ? { t: T.Word, v } : { t: T.Word, v, raw: word });
      i = j;
    } else if (isDigit(c) || (c === 46 && isDigit(d))) {
      let j = i + 1;
      while (j < n) {
        const a = src.charCodeAt(j);
        if (isDigit(a) || isAlpha(a) || a === 95 || a === 46) j++;
        else if ((a === 43 || a === 45) && (src.charCodeAt(j - 1) | 32) === 101 && !/^0x/i.test(src.slice(i, i + 2))) j++;
        else break;
      }
      toks.push({ t: T.Num, v: src.slice(i, j) });
      i = j;
    } else if (c === 58 && d === 58) {
      toks.push({ t: T.Op, v: "::" });
      i += 2;
    } else {
      toks.push({ t: T.Op, v: src[i]! });
      i++;
    }
  }

  /** Postgres `E'...'` (backslash escapes), `B'...'`, `X'...'`, `N'...'` and `U&'...'`: pushes a string and moves past it. */
  function prefixedLiteral(word: string, j: number): boolean {
    const next = src.charCodeAt(j);
    if (j - i !== 1) return false;
    const lower = word.toLowerCase();
    if (next === 39 && (lower === "e" || lower === "b" || lower === "x" || lower === "n")) {
      i = quoted(j, 39, lower === "e");
      toks.push({ t: T.Str, v: "" });
      return true;
    }
    if (lower === "u" && next === 38) {
      const after = src.charCodeAt(j + 1);
      if (after === 34) throw REJECT; // U&"..." identifiers with escapes: not handled
      if (after === 39) {
        i = quoted(j + 1, 39, false);
        toks.push({ t: T.Str, v: "" });
        return true;
      }
    }
    return false;
  }
}

/**
 * A MySQL `/*...*\/` comment from `start` to `end` (the index of its `*\/`).
 * An ordinary comment (and an optimizer hint, `/*+`) is dropped. The content of
 * an executable comment is lexed as SQL: always for `/*!` without a version
 * (MySQL and MariaDB both run it), and when `options.conditional` for
 * `/*!NNNNN` and MariaDB's `/*M!` (whether they run depends on the server).
 * Its content must be whole tokens that end before the first `*\/` (a string
 * holding `*\/`, or a line comment, is read differently by the server) and
 * holds no comment of its own.
 */
function mysqlComment(src: string, start: number, end: number, o: LexOptions, out: Lexed): void {
  let i = start + 2;
  const mariadb = src.charCodeAt(i) === 77; // `/*M!`; MariaDB runs no `/*m!`
  if (mariadb) i++;
  if (src.charCodeAt(i) !== 33) return; // an ordinary comment, or an optimizer hint
  i++;
  let digits = 0;
  while (isDigit(src.charCodeAt(i + digits))) digits++;
  // MySQL reads five digits of version (MariaDB six after `/*!`, and five or six after `/*M!`): any other length is ambiguous.
  if (digits !== 0 && digits !== 5 && !(mariadb && digits === 6)) throw REJECT;
  const condition = mariadb ? `M${src.slice(i, i + digits)}` : digits > 0 ? src.slice(i, i + digits) : undefined;
  i += digits;
  if (condition !== undefined) {
    out.condition = out.condition === undefined || out.condition === condition ? condition : "mixed";
    if (o.conditional === false) return;
  }
  lexInto(src, i, end, o, out, true);
}

/** Index of the matching parenthesis for each `(` / `)`; `undefined` if unbalanced or `;` inside parentheses. */
export function matchParens(toks: readonly Tok[]): Int32Array | undefined {
  const match = new Int32Array(toks.length).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i]!;
    if (tok.t !== T.Op) continue;
    if (tok.v === "(") stack.push(i);
    else if (tok.v === ")") {
      const open = stack.pop();
      if (open === undefined) return undefined;
      match[open] = i;
      match[i] = open;
    } else if (tok.v === ";" && stack.length > 0) return undefined;
  }
  return stack.length === 0 ? match : undefined;
}
