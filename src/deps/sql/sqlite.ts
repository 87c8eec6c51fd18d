/**
 * The SQLite recogniser: `INSERT [OR conflict] INTO` and `REPLACE INTO`
 * (with `ON CONFLICT ... DO UPDATE`, an upsert, or `DO NOTHING`), `UPDATE
 * [OR conflict]`, `DELETE FROM`, each optionally after `WITH`, and `SELECT`
 * / `VALUES`. `OR REPLACE` (and `REPLACE INTO`) may delete rows that stand in
 * the way, so it adds a `delete` of the table.
 *
 * Unknown: `PRAGMA`, `ATTACH`, `VACUUM`, transactions, DDL, the `REGEXP`
 * operator (it calls an application-defined function), qualified or quoted
 * function calls, and any function that is not a known read-only built-in
 * (application-defined functions may do anything).
 * @module
 */
import { T, type Tok } from "./lexer.js";
import { Recogniser, type ScanMode, UNKNOWN, words } from "./recogniser.js";

/** Core built-in functions known to write no table (`load_extension` is not one). */
const SAFE_FUNCTIONS = words(
  "abs acos acosh asin asinh atan atan2 atanh avg ceil ceiling char changes coalesce concat concat_ws cos cosh count " +
    "cume_dist date datetime degrees dense_rank exp first_value floor format glob group_concat hex ifnull iif instr json " +
    "json_array json_array_length json_each json_error_position json_extract json_group_array json_group_object json_insert " +
    "json_object json_patch json_pretty json_quote json_remove json_replace json_set json_tree json_type json_valid jsonb " +
    "jsonb_array jsonb_extract jsonb_group_array jsonb_group_object jsonb_insert jsonb_object jsonb_patch jsonb_remove " +
    "jsonb_replace jsonb_set julianday lag last_insert_rowid last_value lead length like likelihood likely ln log log10 log2 " +
    "lower ltrim max min mod nth_value ntile nullif octet_length percent_rank pi pow power printf quote radians random " +
    "randomblob rank replace round row_number rtrim sign sin sinh soundex sqlite_source_id sqlite_version sqrt strftime " +
    "string_agg substr substring sum tan tanh time timediff total total_changes trim trunc typeof unhex unicode unixepoch " +
    "unlikely upper zeroblob",
);

/** Reserved words that take parentheses without being calls (none can name a function). */
const NOT_CALLS = words(
  "all and as between case cast collate distinct else escape except exists from group having in intersect is join limit not on or order returning select set then union using values when where",
);

/**
 * Keywords that may also name an application-defined function (SQLite calls
 * `by(1)` or `conflict(1)` if there is one): keywords only where they stand.
 * `OVER (` and `FILTER (` follow `)`, and `WINDOW w AS (` follows `AS`.
 */
function keywordCall(name: string, prev: Tok | undefined): boolean {
  const after = prev?.t === T.Word ? prev.v : "";
  if (name === "by") return after === "order" || after === "group" || after === "partition";
  return name === "conflict" && after === "on";
}

const SET_STOPS = words("from where returning order limit");
const CONFLICT = words("rollback abort replace fail ignore");

const READS = words("select values");

/** The SQLite recogniser. */
export class SqliteRecogniser extends Recogniser {
  protected readonly writeWords = words("update delete insert into regexp");

  protected main(): void {
    const word = this.firstWord(READS);
    if (word === undefined) return;
    switch (word) {
      case "insert":
      case "replace": {
        this.pos++;
        const replace = word === "replace" || this.orConflict();
        this.expectWord("into");
        const target = this.name(2);
        if (this.isWord("as")) {
          this.pos++;
          this.ident();
        }
        const upsert = this.scan("insert");
        if (replace) this.sink.add(target, "delete");
        this.sink.add(target, upsert ? "upsert" : "insert");
        return;
      }
      case "update": {
        this.pos++;
        const replace = this.orConflict();
        const target = this.name(2);
        this.tableSuffix();
        if (!this.isWord("set")) throw UNKNOWN;
        const columns = this.assignments(this.pos + 1, SET_STOPS);
        this.scan("update");
        if (replace) this.sink.add(target, "delete");
        this.sink.add(target, "update", columns);
        return;
      }
      case "delete": {
        this.pos++;
        this.expectWord("from");
        const target = this.name(2);
        this.tableSuffix();
        this.scan("delete");
        this.sink.add(target, "delete");
        return;
      }
      default:
        throw UNKNOWN;
    }
  }

  /** `OR {ROLLBACK | ABORT | REPLACE | FAIL | IGNORE}`, if there: whether it is `OR REPLACE`. */
  private orConflict(): boolean {
    if (!this.isWord("or")) return false;
    this.pos++;
    const t = this.tok();
    if (t === undefined || t.t !== T.Word || !CONFLICT.has(t.v)) throw UNKNOWN;
    this.pos++;
    return t.v === "replace";
  }

  /** After `UPDATE` / `DELETE FROM` `[schema.]table`: `[AS alias] [INDEXED BY index | NOT INDEXED]`. */
  private tableSuffix(): void {
    if (this.isWord("as")) {
      this.pos++;
      this.ident();
    }
    if (this.isWord("indexed")) {
      this.pos++;
      this.expectWord("by");
      this.ident();
    } else if (this.isWord("not") && this.isWord("indexed", this.pos + 1)) this.pos += 2;
  }

  /** `UPDATE` only as `ON CONFLICT ... DO UPDATE` (an upsert); `DELETE`, `INSERT`, `INTO` and `REGEXP` never. */
  protected writeWord(i: number, mode: ScanMode): boolean {
    if (this.toks[i]!.v === "update" && mode === "insert" && this.wordBefore(i) === "do") return true;
    throw UNKNOWN;
  }

  /** See {@link Recogniser.strictCheckCall}. */
  protected checkCall(i: number): void {
    this.strictCheckCall(i, SAFE_FUNCTIONS, NOT_CALLS, keywordCall);
  }
}
