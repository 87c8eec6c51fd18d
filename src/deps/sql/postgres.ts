/**
 * The PostgreSQL recogniser: `INSERT INTO`, `UPDATE`, `DELETE FROM`,
 * `TRUNCATE` and `MERGE INTO` (also inside `WITH` clauses), and read-only
 * `SELECT` / `VALUES` / `TABLE` statements. Anything else (a `DO` block, `CALL`, DDL,
 * `COPY`, `SELECT ... INTO`, a call to a function that is not a known
 * read-only built-in, a syntax it does not follow) is unknown.
 * @module
 */
import { T } from "./lexer.js";
import { Recogniser, type ScanMode, UNKNOWN, words, type Name } from "./recogniser.js";
import type { ColumnRef } from "./types.js";

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

/** Where a `SET` list ends. */
const SET_STOPS = words("from where returning");

const READS = words("select values table");

/** The PostgreSQL recogniser. */
export class PostgresRecogniser extends Recogniser {
  protected readonly writeWords = words("update delete insert into merge truncate");

  protected main(): void {
    const word = this.firstWord(READS);
    if (word === undefined) return;
    switch (word) {
      case "insert": {
        this.pos++;
        this.expectWord("into");
        const target = this.name(3);
        const upsert = this.scan("insert");
        this.sink.add(target, upsert ? "upsert" : "insert");
        return;
      }
      case "update": {
        this.pos++;
        const target = this.targetTable();
        const columns = this.setColumns();
        this.scan("update");
        this.sink.add(target, "update", columns);
        return;
      }
      case "delete": {
        this.pos++;
        this.expectWord("from");
        const target = this.targetTable();
        this.scan("delete");
        this.sink.add(target, "delete");
        return;
      }
      case "merge": {
        this.pos++;
        this.expectWord("into");
        const target = this.targetTable();
        this.scan("merge");
        this.sink.add(target, "merge");
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
      this.sink.add(this.name(3), "truncate");
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
        this.sink.cascade = true;
      } else if (this.isWord("restrict")) {
        this.pos++;
      } else throw UNKNOWN;
    }
  }

  /** The table a write names: `[ONLY] name [*]`. */
  private targetTable(): Name {
    if (this.isWord("only")) this.pos++;
    const target = this.name(3);
    if (this.isOp("*")) this.pos++;
    return target;
  }

  /**
   * Columns assigned by `UPDATE target [[AS] alias] SET ...`, read ahead from
   * the current position without consuming; `undefined` when not followed.
   */
  private setColumns(): ColumnRef[] | undefined {
    let j = this.pos;
    if (this.isWord("as", j)) j += 2;
    else if (!this.isWord("set", j) && (this.tok(j)?.t === T.Word || this.tok(j)?.t === T.QId)) j++;
    if (!this.isWord("set", j)) throw UNKNOWN;
    return this.assignments(j + 1, SET_STOPS);
  }

  /**
   * Data-modifying keywords out of place: `UPDATE` only in `FOR [NO KEY]
   * UPDATE`, a `MERGE` action or `ON CONFLICT ... DO UPDATE` (an upsert);
   * `DELETE` and `INSERT` only as `MERGE` actions; `INTO` never
   * (`SELECT ... INTO` creates a table), nor `MERGE` or `TRUNCATE`.
   */
  protected writeWord(i: number, mode: ScanMode): boolean {
    const prevWord = this.wordBefore(i);
    switch (this.toks[i]!.v) {
      case "update":
        if (prevWord === "for" || prevWord === "key" || (mode === "merge" && prevWord === "then")) return false;
        if (mode === "insert" && prevWord === "do") return true;
        throw UNKNOWN;
      case "delete":
      case "insert":
        if (mode === "merge" && prevWord === "then") return false;
        throw UNKNOWN;
      default:
        throw UNKNOWN;
    }
  }

  /** `toks[i]` is a name followed by `(`: allow it only if it is not a call to an unknown function. */
  protected checkCall(i: number): void {
    const t = this.toks[i]!;
    if (t.t !== T.Word && t.t !== T.QId) return;
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
