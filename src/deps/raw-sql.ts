/**
 * Which tables a raw SQL write (`$executeRaw`, `$executeRawUnsafe`) changes.
 *
 * A small, linear-time tokenizer and recogniser for the PostgreSQL dialect.
 * It understands `INSERT INTO`, `UPDATE`, `DELETE FROM`, `TRUNCATE` and
 * `MERGE INTO` (also inside `WITH` clauses), plain `SELECT` / `VALUES` /
 * `TABLE` statements, several statements separated by `;`, string literals,
 * dollar-quoted bodies, comments and quoted identifiers. Anything else (a `DO`
 * block, `CALL`, DDL, `COPY`, `SELECT ... INTO`, a call to a function that is
 * not a known read-only built-in, a syntax it does not follow) makes
 * {@link tablesWritten} return `undefined`, and the caller must invalidate
 * the whole namespace.
 *
 * What it cannot see: triggers and rules that write other tables, and
 * foreign-key actions (`ON DELETE CASCADE` and friends; see `schema.ts` for
 * those). `SET search_path` in an earlier call is not tracked either: schema
 * qualifiers are reported, not resolved.
 * @module
 */

/** A table reference as written in SQL. */
export interface TableRef {
  /** Schema qualifier (`public` in `public."Post"`), if any. For `db.schema.table`, the middle part. */
  schema?: string;
  /** Table name: exact for a quoted identifier, folded to lower case for an unquoted one (as Postgres does). */
  name: string;
  /** Whether the name was a quoted identifier (matched case-sensitively). Absent means unquoted. */
  quoted?: boolean;
}

/** What a statement does to a written table's rows. */
export type WriteOp = "insert" | "upsert" | "update" | "delete" | "truncate" | "merge";

/** A column reference as written in SQL (same case rules as {@link TableRef}). */
export interface ColumnRef {
  /** Column name: exact when quoted, lower-cased when not. */
  name: string;
  /** Whether it was a quoted identifier. */
  quoted: boolean;
}

/** A table written by a statement. */
export interface WrittenTable extends TableRef {
  /** Whether the name was a quoted identifier. */
  quoted: boolean;
  /** The kind of write. `upsert` is `INSERT ... ON CONFLICT ... DO UPDATE`; `merge` may insert, update and delete. */
  op: WriteOp;
  /**
   * For `update` only: the columns assigned by `SET` (database column names,
   * not field names). Absent when unknown, or when the op is not `update`.
   */
  columns?: ColumnRef[];
}

/** The result of {@link tablesWritten}. */
export interface WrittenTables {
  /** Written tables, in order of appearance, deduplicated per table and op. */
  tables: WrittenTable[];
  /**
   * Set when a `TRUNCATE ... CASCADE` appears: every table with a foreign key
   * to a truncated one is emptied too, and the caller must widen (e.g. with
   * `affectedByDelete` from `schema.ts`, or the whole namespace).
   */
  cascade?: true;
}

// ---------------------------------------------------------------------------
// Tokenizer

/** Token kinds. */
const T = {
  /** Unquoted identifier or keyword, lower-cased. */
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

interface Tok {
  t: (typeof T)[keyof typeof T];
  v: string;
}

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isWordStart = (c: number): boolean => isAlpha(c) || c === 95 || c >= 128;
const isWordPart = (c: number): boolean => isWordStart(c) || isDigit(c) || c === 36;
const isTagPart = (c: number): boolean => isAlpha(c) || c === 95 || isDigit(c) || c >= 128;
/** ASCII-only lower-casing, as Postgres folds unquoted identifiers. */
const fold = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Tokenize; `undefined` on an unterminated literal, comment or identifier. */
function lex(src: string): Tok[] | undefined {
  const out: Tok[] = [];
  const n = src.length;
  let i = 0;
  /** End index (exclusive) of a '...' literal opening at `start`, `-1` if unterminated. */
  const quoted = (start: number, backslash: boolean): number => {
    let j = start + 1;
    while (j < n) {
      const c = src.charCodeAt(j);
      if (backslash && c === 92) j += 2;
      else if (c === 39) {
        if (src.charCodeAt(j + 1) === 39) j += 2;
        else return j + 1;
      } else j++;
    }
    return -1;
  };
  while (i < n) {
    const c = src.charCodeAt(i);
    const d = src.charCodeAt(i + 1);
    if (isSpace(c)) {
      i++;
    } else if (c === 45 && d === 45) {
      // -- comment
      const end = src.indexOf("\n", i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === 47 && d === 42) {
      // /* nested */ comment
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) return undefined;
        const a = src.charCodeAt(i);
        const b = src.charCodeAt(i + 1);
        if (a === 47 && b === 42) depth++, (i += 2);
        else if (a === 42 && b === 47) depth--, (i += 2);
        else i++;
      }
    } else if (c === 39) {
      const end = quoted(i, false);
      if (end < 0) return undefined;
      out.push({ t: T.Str, v: "" });
      i = end;
    } else if (c === 34 || c === 96) {
      // "quoted identifier" ("" escapes), or `backtick` (MySQL style)
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        const a = src.charCodeAt(j);
        if (a === c) {
          if (src.charCodeAt(j + 1) === c) {
            v += src[j];
            j += 2;
            continue;
          }
          break;
        }
        v += src[j];
        j++;
      }
      if (v === "") return undefined;
      out.push({ t: T.QId, v });
      i = j + 1;
    } else if (c === 36) {
      // $1 parameter, $$ or $tag$ dollar quote
      if (isDigit(d)) {
        let j = i + 1;
        while (j < n && isDigit(src.charCodeAt(j))) j++;
        out.push({ t: T.Param, v: src.slice(i, j) });
        i = j;
        continue;
      }
      let j = i + 1;
      if (isWordStart(d)) while (j < n && isTagPart(src.charCodeAt(j))) j++;
      if (src.charCodeAt(j) !== 36) {
        out.push({ t: T.Op, v: "$" });
        i++;
        continue;
      }
      const tag = src.slice(i, j + 1);
      const end = src.indexOf(tag, j + 1);
      if (end < 0) return undefined;
      out.push({ t: T.Str, v: "" });
      i = end + tag.length;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordPart(src.charCodeAt(j))) j++;
      const word = src.slice(i, j);
      const next = src.charCodeAt(j);
      if (j - i === 1 && next === 39) {
        // E'...' (backslash escapes), B'...', X'...', N'...'
        const lower = word.toLowerCase();
        if (lower === "e" || lower === "b" || lower === "x" || lower === "n") {
          const end = quoted(j, lower === "e");
          if (end < 0) return undefined;
          out.push({ t: T.Str, v: "" });
          i = end;
          continue;
        }
      }
      if (j - i === 1 && (word === "u" || word === "U") && next === 38) {
        const after = src.charCodeAt(j + 1);
        if (after === 34) return undefined; // U&"..." identifiers with escapes: not handled
        if (after === 39) {
          const end = quoted(j + 1, false);
          if (end < 0) return undefined;
          out.push({ t: T.Str, v: "" });
          i = end;
          continue;
        }
      }
      out.push({ t: T.Word, v: fold(word) });
      i = j;
    } else if (isDigit(c) || (c === 46 && isDigit(d))) {
      let j = i + 1;
      while (j < n) {
        const a = src.charCodeAt(j);
        if (isDigit(a) || isAlpha(a) || a === 95 || a === 46) j++;
        else if ((a === 43 || a === 45) && (src.charCodeAt(j - 1) | 32) === 101 && !/^0x/i.test(src.slice(i, i + 2))) j++;
        else break;
      }
      out.push({ t: T.Num, v: src.slice(i, j) });
      i = j;
    } else if (c === 58 && d === 58) {
      out.push({ t: T.Op, v: "::" });
      i += 2;
    } else {
      out.push({ t: T.Op, v: src[i]! });
      i++;
    }
  }
  return out;
}

/** Index of the matching parenthesis for each `(` / `)`; `undefined` if unbalanced or `;` inside parentheses. */
function matchParens(toks: readonly Tok[]): Int32Array | undefined {
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

// ---------------------------------------------------------------------------
// Recogniser

/** Thrown (and caught in {@link tablesWritten}) when the SQL is not understood. */
const UNKNOWN = Symbol("unknown SQL");

/**
 * Built-in functions known to write no table. A call to any other function
 * makes the SQL unknown (it could be a user function that writes).
 */
const SAFE_FUNCTIONS = new Set(
  (
    "abs acos age array_agg array_append array_cat array_length array_lower array_position array_positions array_prepend " +
    "array_remove array_replace array_to_json array_to_string array_upper ascii asin atan atan2 avg bernoulli bit_and bit_length " +
    "bit_or bool_and bool_or btrim cardinality cbrt ceil ceiling char_length character_length chr clock_timestamp coalesce " +
    "concat concat_ws convert_from convert_to corr cos count cume_dist current_date current_setting current_time set_config " +
    "current_timestamp date_bin date_part date_trunc decode degrees dense_rank digest div encode every exp extract " +
    "first_value floor format gen_random_uuid generate_series generate_subscripts greatest hashtext initcap isfinite " +
    "json_agg json_array_elements json_array_elements_text json_array_length json_build_array json_build_object json_each " +
    "json_each_text json_extract_path json_extract_path_text json_object json_object_agg json_object_keys json_populate_record " +
    "json_strip_nulls json_typeof jsonb_agg jsonb_array_elements jsonb_array_elements_text jsonb_array_length " +
    "jsonb_build_array jsonb_build_object jsonb_each jsonb_each_text jsonb_extract_path jsonb_extract_path_text jsonb_insert " +
    "jsonb_object jsonb_object_agg jsonb_object_keys jsonb_path_exists jsonb_path_query jsonb_path_query_array " +
    "jsonb_path_query_first jsonb_populate_record jsonb_pretty jsonb_set jsonb_set_lax jsonb_strip_nulls jsonb_to_record " +
    "jsonb_to_recordset jsonb_typeof json_to_record json_to_recordset justify_days justify_hours justify_interval lag " +
    "last_value lead least left length ln localtime localtimestamp log log10 lower lpad ltrim make_date make_interval " +
    "make_time make_timestamp make_timestamptz max md5 min mod mode now nth_value ntile nullif num_nonnulls num_nulls " +
    "octet_length overlay percent_rank percentile_cont percentile_disc pi position power quote_ident quote_literal " +
    "quote_nullable radians random range_agg rank regexp_count regexp_instr regexp_like regexp_match regexp_matches " +
    "regexp_replace regexp_split_to_array regexp_split_to_table regexp_substr repeat replace reverse right round " +
    "row_number row_to_json rpad rtrim scale sha224 sha256 sha384 sha512 sign sin split_part sqrt starts_with " +
    "statement_timestamp stddev stddev_pop stddev_samp string_agg string_to_array string_to_table strpos substr substring " +
    "sum system tan timezone to_char to_date to_hex to_json to_jsonb to_number to_timestamp transaction_timestamp " +
    "translate trim trim_scale trunc unnest upper uuid_generate_v4 uuidv4 uuidv7 var_pop var_samp variance width_bucket " +
    "xmlagg nextval currval lastval setval merge_action"
  ).split(" "),
);

/** Words that may precede `(` without being a function call. */
const NOT_CALLS = new Set(
  (
    "all and any array as asc at between both by case cast char character collate conflict cube dec decimal default " +
    "desc distinct do else escape except exists fetch filter first float for from group grouping having ilike in insert " +
    "intersect interval into is join lateral leading like limit materialized nchar not nulls numeric offset on only " +
    "operator or order over overlaps partition precision range recursive returning rollup row rows select set sets " +
    "similar some symmetric table tablesample then time timestamp timestamptz timetz to trailing union using values " +
    "varbit varchar varying when where window with within bit"
  ).split(" "),
);

/**
 * Keywords: a word `w` followed by `name(` where `w` is NOT one of these is an
 * identifier, and `name(...)` is then an alias column list (`FROM t x(a, b)`).
 */
const KEYWORDS = new Set([
  ...NOT_CALLS,
  ...(
    "absent asymmetric columns content cross current delete document else empty encoding end error exclude following format " +
    "full groups if inner isnull keep key left limit locked matched merge name natural nested next nothing notnull nowait of " +
    "omit others outer passing path placing preceding quotes repeatable return right share skip standalone strict ties " +
    "uescape unbounded update user value version wrapper zone true false null unknown"
  ).split(" "),
]);

interface Name {
  schema?: string;
  name: string;
  quoted: boolean;
}

class Recogniser {
  private pos = 0;
  private end = 0;
  readonly tables: WrittenTable[] = [];
  private readonly seen = new Map<string, WrittenTable>();
  cascade = false;

  constructor(
    private readonly toks: readonly Tok[],
    private readonly match: Int32Array,
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

  // -- token helpers

  private tok(i = this.pos): Tok | undefined {
    return i < this.end ? this.toks[i] : undefined;
  }
  private isWord(w: string, i = this.pos): boolean {
    const t = this.tok(i);
    return t !== undefined && t.t === T.Word && t.v === w;
  }
  private isOp(v: string, i = this.pos): boolean {
    const t = this.tok(i);
    return t !== undefined && t.t === T.Op && t.v === v;
  }
  private expectWord(w: string): void {
    if (!this.isWord(w)) throw UNKNOWN;
    this.pos++;
  }
  private ident(): { v: string; quoted: boolean } {
    const t = this.tok();
    if (t === undefined || (t.t !== T.Word && t.t !== T.QId)) throw UNKNOWN;
    this.pos++;
    return { v: t.v, quoted: t.t === T.QId };
  }
  /** `name`, `schema.name` or `catalog.schema.name`. */
  private name(): Name {
    const parts = [this.ident()];
    while (this.isOp(".")) {
      this.pos++;
      parts.push(this.ident());
    }
    if (parts.length > 3) throw UNKNOWN;
    const last = parts[parts.length - 1]!;
    const name: Name = { name: last.v, quoted: last.quoted };
    if (parts.length > 1) name.schema = parts[parts.length - 2]!.v;
    return name;
  }

  private add(name: Name, op: WriteOp, columns?: ColumnRef[]): void {
    const key = `${op}\0${name.schema ?? ""}\0${name.quoted ? "q" : "u"}\0${name.name}`;
    const existing = this.seen.get(key);
    if (existing === undefined) {
      const entry: WrittenTable = { ...name, op };
      if (columns !== undefined) entry.columns = columns;
      this.tables.push(entry);
      this.seen.set(key, entry);
    } else if (existing.columns !== undefined) {
      if (columns === undefined) delete existing.columns;
      else for (const c of columns) if (!existing.columns.some((e) => e.name === c.name && e.quoted === c.quoted)) existing.columns.push(c);
    }
  }

  // -- statements

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

  private main(): void {
    const t = this.tok();
    if (t === undefined) throw UNKNOWN;
    if (t.t === T.Op && t.v === "(") {
      this.scan("read");
      return;
    }
    if (t.t !== T.Word) throw UNKNOWN;
    switch (t.v) {
      case "select":
      case "values":
      case "table":
        this.scan("read");
        return;
      case "insert": {
        this.pos++;
        this.expectWord("into");
        const target = this.name();
        const upsert = this.scan("insert");
        this.add(target, upsert ? "upsert" : "insert");
        return;
      }
      case "update": {
        this.pos++;
        const target = this.targetTable();
        const columns = this.setColumns();
        this.scan("update");
        this.add(target, "update", columns);
        return;
      }
      case "delete": {
        this.pos++;
        this.expectWord("from");
        const target = this.targetTable();
        this.scan("delete");
        this.add(target, "delete");
        return;
      }
      case "merge": {
        this.pos++;
        this.expectWord("into");
        const target = this.targetTable();
        this.scan("merge");
        this.add(target, "merge");
        return;
      }
      case "truncate":
        this.truncate();
        return;
      default:
        throw UNKNOWN;
    }
  }

  private truncate(): void {
    this.pos++;
    if (this.isWord("table")) this.pos++;
    for (;;) {
      if (this.isWord("only")) this.pos++;
      this.add(this.name(), "truncate");
      if (this.isOp("*")) this.pos++;
      if (!this.isOp(",")) break;
      this.pos++;
    }
    while (this.pos < this.end) {
      if (this.isWord("restart") || this.isWord("continue")) {
        this.pos++;
        this.expectWord("identity");
      } else if (this.isWord("cascade")) {
        this.pos++;
        this.cascade = true;
      } else if (this.isWord("restrict")) {
        this.pos++;
      } else throw UNKNOWN;
    }
  }

  /** The table a write names: `[ONLY] name [*]`. */
  private targetTable(): Name {
    if (this.isWord("only")) this.pos++;
    const target = this.name();
    if (this.isOp("*")) this.pos++;
    return target;
  }

  /**
   * Columns assigned by `UPDATE target [[AS] alias] SET ...`, read ahead from
   * the current position without consuming; `undefined` when not followed.
   */
  private setColumns(): ColumnRef[] | undefined {
    let j = this.pos;
    const word = (i: number, w: string): boolean => this.isWord(w, i);
    if (word(j, "as")) j += 2;
    else if (!word(j, "set") && (this.tok(j)?.t === T.Word || this.tok(j)?.t === T.QId)) j++;
    if (!word(j, "set")) throw UNKNOWN;
    j++;
    const out: ColumnRef[] = [];
    const column = (i: number): ColumnRef | undefined => {
      const t = this.tok(i);
      return t !== undefined && (t.t === T.Word || t.t === T.QId) ? { name: t.v, quoted: t.t === T.QId } : undefined;
    };
    for (;;) {
      if (this.isOp("(", j)) {
        const close = this.match[j]!;
        for (let k = j + 1; k < close; k += 2) {
          const c = column(k);
          if (c === undefined || (k + 1 < close && !this.isOp(",", k + 1))) return undefined;
          out.push(c);
        }
        j = close + 1;
      } else {
        const c = column(j);
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
      j++;
      // Skip the value expression.
      let brackets = 0;
      for (;;) {
        const t = this.tok(j);
        if (t === undefined) return out;
        if (t.t === T.Op && t.v === "(") j = this.match[j]! + 1;
        else if (t.t === T.Op && t.v === "[") brackets++, j++;
        else if (t.t === T.Op && t.v === "]") brackets--, j++;
        else if (brackets === 0 && t.t === T.Op && t.v === ",") {
          j++;
          break;
        } else if (brackets === 0 && t.t === T.Word && (t.v === "from" || t.v === "where" || t.v === "returning")) return out;
        else j++;
      }
    }
  }

  /**
   * Walk the rest of the statement: reject data-modifying keywords out of
   * place, `INTO` (`SELECT ... INTO` creates a table) and calls to functions
   * that may write. Returns whether `ON CONFLICT ... DO UPDATE` was seen.
   */
  private scan(mode: "read" | "insert" | "update" | "delete" | "merge"): boolean {
    let upsert = false;
    for (; this.pos < this.end; this.pos++) {
      const i = this.pos;
      const t = this.toks[i]!;
      if (t.t === T.Word) {
        const prev = this.toks[i - 1];
        const prevWord = prev !== undefined && prev.t === T.Word ? prev.v : "";
        switch (t.v) {
          case "update":
            if (prevWord === "for" || prevWord === "key" || (mode === "merge" && prevWord === "then")) break;
            if (mode === "insert" && prevWord === "do") {
              upsert = true;
              break;
            }
            throw UNKNOWN;
          case "delete":
          case "insert":
            if (mode === "merge" && prevWord === "then") break;
            throw UNKNOWN;
          case "into":
          case "merge":
          case "truncate":
            throw UNKNOWN;
        }
      }
      if ((t.t === T.Word || t.t === T.QId) && this.isOp("(", i + 1)) this.checkCall(i);
    }
    return upsert;
  }

  /** `toks[i]` is a name followed by `(`: allow it only if it is not a call to an unknown function. */
  private checkCall(i: number): void {
    const t = this.toks[i]!;
    const prev = this.toks[i - 1];
    if (prev !== undefined && prev.t === T.Op && prev.v === ".") {
      // schema-qualified function: only pg_catalog built-ins
      const qualifier = this.toks[i - 2];
      if (qualifier !== undefined && qualifier.t !== T.Op && qualifier.v === "pg_catalog" && SAFE_FUNCTIONS.has(t.v)) return;
      throw UNKNOWN;
    }
    if (SAFE_FUNCTIONS.has(t.v)) return;
    if (t.t === T.Word && NOT_CALLS.has(t.v)) return;
    if (prev !== undefined) {
      if (prev.t === T.Op && (prev.v === "::" || prev.v === ")")) return; // type modifier, alias column list
      if (prev.t === T.QId) return; // alias column list
      if (prev.t === T.Word && (prev.v === "as" || !KEYWORDS.has(prev.v))) return; // alias column list, cast type
    }
    throw UNKNOWN;
  }
}

/**
 * The tables a raw SQL write changes.
 *
 * @param sql The SQL text (with `$1`-style placeholders, as Prisma passes it).
 * @returns The written tables (empty when there are only `SELECT`s), with
 * `cascade: true` when a `TRUNCATE ... CASCADE` appears; or `undefined` when
 * the SQL is anything this recogniser does not understand, in which case the
 * caller must invalidate the whole namespace.
 */
export function tablesWritten(sql: string): WrittenTables | undefined {
  if (typeof sql !== "string") return undefined;
  const toks = lex(sql);
  if (toks === undefined) return undefined;
  const match = matchParens(toks);
  if (match === undefined) return undefined;
  const r = new Recogniser(toks, match);
  try {
    let start = 0;
    for (let i = 0; i <= toks.length; i++) {
      if (i === toks.length || (toks[i]!.t === T.Op && toks[i]!.v === ";")) {
        if (i > start) r.statement(start, i);
        start = i + 1;
      }
    }
  } catch (err) {
    if (err === UNKNOWN) return undefined;
    throw err;
  }
  return r.cascade ? { tables: r.tables, cascade: true } : { tables: r.tables };
}

/**
 * Map table names to model names.
 *
 * A model's table is its `dbName` (`@@map`) when set, else the model name. A
 * quoted name (`quoted: true`) must match exactly; any other is matched
 * case-insensitively (Postgres folds unquoted names to lower case). Implicit
 * many-to-many join tables (`_PostToTag`) map to both of their models. The
 * schema qualifier is ignored (`other_schema."Post"` maps to `Post`), which
 * can only widen the invalidation.
 *
 * @param tables Table references, e.g. `tablesWritten(sql).tables`.
 * @param models Models by name, e.g. the runtime data model's `models`.
 * @param joinTables Implicit many-to-many join tables (`parseRelations(schema).joinTables`).
 * @returns Model names in order of first appearance, or `undefined` when some
 * table is not a model's table nor a join table (the caller then invalidates
 * the whole namespace).
 */
export function modelsForTables(
  tables: readonly TableRef[],
  models: Readonly<Record<string, { dbName?: string | null }>>,
  joinTables: readonly { table: string; models: readonly string[] }[] = [],
): string[] | undefined {
  const out = new Set<string>();
  const candidates = [...Object.entries(models).map(([name, m]) => ({ table: m.dbName ?? name, models: [name] as readonly string[] })), ...joinTables];
  for (const t of tables) {
    const lower = t.name.toLowerCase();
    let found = false;
    for (const c of candidates) {
      if (t.quoted === true ? c.table === t.name : c.table.toLowerCase() === lower) {
        found = true;
        for (const m of c.models) out.add(m);
      }
    }
    if (!found) return undefined;
  }
  return [...out];
}
