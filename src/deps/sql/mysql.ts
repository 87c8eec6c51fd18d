/**
 * The MySQL / MariaDB recogniser: `INSERT [IGNORE] [INTO]` (with `ON
 * DUPLICATE KEY UPDATE`, an upsert), `REPLACE [INTO]` (a delete and an
 * insert), single- and multi-table `UPDATE` (the tables whose columns `SET`
 * assigns, through aliases) and `DELETE` (`DELETE a, b FROM ...`, `DELETE
 * FROM a USING ...`), `TRUNCATE [TABLE]`, `LOAD DATA|XML ... INTO TABLE`,
 * `WITH ... SELECT|UPDATE|DELETE`, and `SELECT` / `VALUES` / `TABLE`.
 *
 * Unknown: `SET`, `CALL`, `DO`, `HANDLER`, DDL, `LOCK TABLES`, `SELECT ...
 * INTO` (variables, files), qualified function calls (stored functions) and
 * any function that is not a known read-only built-in; also a `SET`
 * qualifier that names a derived table, and index hints or table factors it
 * does not follow.
 * @module
 */
import { T, type Tok } from "./lexer.js";
import { type Name, Recogniser, type ScanMode, UNKNOWN, words } from "./recogniser.js";
import type { ColumnRef } from "./types.js";

/**
 * Built-in functions known to write no table, in both MySQL 8 and MariaDB
 * 10/11 (a name that is a built-in in only one of them may be a stored
 * function in the other). Unqualified calls to a built-in's name reach the
 * built-in.
 */
const SAFE_FUNCTIONS = words(
  "abs acos adddate addtime aes_decrypt aes_encrypt ascii asin atan atan2 avg bin bit_and bit_count bit_length bit_or bit_xor " +
    "ceil ceiling char_length character_length charset coalesce coercibility collation compress concat concat_ws connection_id " +
    "conv convert convert_tz cos cot count crc32 cume_dist curdate current_date current_time current_timestamp current_user " +
    "curtime database date date_add date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear degrees " +
    "dense_rank elt exp export_set extract field find_in_set first_value floor format found_rows from_base64 from_days " +
    "from_unixtime greatest group_concat hex hour if ifnull inet6_aton inet6_ntoa inet_aton inet_ntoa insert instr is_ipv4 " +
    "is_ipv6 isnull json_array json_array_append json_array_insert json_arrayagg json_contains json_contains_path json_depth " +
    "json_extract json_insert json_keys json_length json_merge json_merge_patch json_merge_preserve json_object " +
    "json_objectagg json_overlaps json_pretty json_quote json_remove json_replace json_search json_set json_type json_unquote " +
    "json_valid json_value lag last_day last_insert_id last_value lcase lead least left length ln localtime localtimestamp " +
    "locate log log10 log2 lower lpad ltrim make_set makedate maketime match max md5 microsecond mid min minute mod month " +
    "monthname now nth_value ntile nullif oct octet_length ord percent_rank period_add period_diff pi position pow power " +
    "quarter quote radians rand random_bytes rank regexp_instr regexp_replace regexp_substr repeat replace reverse right round " +
    "row_count row_number rpad rtrim schema sec_to_time second session_user sha sha1 sha2 sign sin sleep soundex space sqrt " +
    "std stddev stddev_pop stddev_samp str_to_date strcmp subdate substr substring substring_index subtime sum sysdate " +
    "system_user tan time time_format time_to_sec timediff timestamp timestampadd timestampdiff to_base64 to_days to_seconds " +
    "trim truncate ucase uncompress uncompressed_length unhex unix_timestamp upper user utc_date utc_time utc_timestamp uuid " +
    "uuid_short var_pop var_samp variance version week weekday weekofyear weight_string year yearweek",
);

/** Reserved words that take parentheses without being calls (types in `CAST` / `CONVERT` among them); none can name a function. */
const NOT_CALLS = words(
  "all and as between binary by case cast char dec decimal default distinct distinctrow div double else except exists float " +
    "for from having high_priority in index int integer intersect interval is join key like limit not numeric on or order " +
    "over partition precision real regexp rlike row rows select set straight_join then union unsigned using values varbinary " +
    "varchar when where window with xor",
);

/**
 * Keywords that may also name a stored function (MariaDB calls `columns(1)`
 * or `json_table(1)` if there is one): keywords only where they stand.
 */
function keywordCall(name: string, prev: Tok | undefined): boolean {
  switch (name) {
    case "columns": // JSON_TABLE(doc, '$[*]' COLUMNS (...))
      return prev?.t === T.Str;
    case "of": // MEMBER OF (json)
      return prev?.t === T.Word && prev.v === "member";
    case "any": // = ANY (subquery)
      return prev?.t === T.Op;
    case "json_table": // FROM JSON_TABLE(...) (MariaDB and MySQL, but no scalar function)
      return prev?.t === T.Word && (prev.v === "from" || prev.v === "join");
    default:
      return false;
  }
}

/** Words that end a table factor rather than alias it. */
const NOT_ALIAS = words(
  "set where order limit on using join inner cross left right natural straight_join outer partition use ignore force returning " +
    "group having union except intersect window for lock into",
);
const UPDATE_REFS_END = words("set");
const DELETE_REFS_END = words("where order limit returning");
const SET_STOPS = words("where order limit returning");

/** A table factor of a `FROM` / `UPDATE` / `USING` list: a table (with its alias) or a derived table. */
interface Ref {
  /** The table; absent for a derived table (a subquery, `JSON_TABLE`), which cannot be written. */
  table?: Name;
  /** The alias, lower-cased. */
  alias?: string;
}

const lower = (s: string): string => s.toLowerCase();

const READS = words("select values table");
const INSERT_OPTIONS = words("low_priority delayed high_priority ignore");
const UPDATE_OPTIONS = words("low_priority ignore");
const DELETE_OPTIONS = words("low_priority quick ignore");
const LOAD_OPTIONS = words("low_priority concurrent local");

/** The MySQL / MariaDB recogniser. */
export class MysqlRecogniser extends Recogniser {
  protected readonly writeWords = words("update delete insert into truncate");

  protected main(): void {
    const word = this.firstWord(READS);
    if (word === undefined) return;
    switch (word) {
      case "insert":
      case "replace":
        this.insert(word === "replace");
        return;
      case "update":
        this.update();
        return;
      case "delete":
        this.delete();
        return;
      case "truncate":
        this.pos++;
        if (this.isWord("table")) this.pos++;
        this.sink.add(this.name(2), "truncate");
        return;
      case "load":
        this.load();
        return;
      default:
        throw UNKNOWN;
    }
  }

  /** `INSERT [LOW_PRIORITY | DELAYED | HIGH_PRIORITY] [IGNORE] [INTO] t ...`, `REPLACE [LOW_PRIORITY | DELAYED] [INTO] t ...`. */
  private insert(replace: boolean): void {
    this.pos++;
    this.skipWords(INSERT_OPTIONS);
    if (this.isWord("into")) this.pos++;
    const target = this.name(2);
    const upsert = this.scan("insert");
    if (replace) this.sink.add(target, "delete");
    this.sink.add(target, upsert ? "upsert" : "insert");
  }

  /** `UPDATE [LOW_PRIORITY] [IGNORE] table_references SET assignments ...`: the tables whose columns are assigned. */
  private update(): void {
    this.pos++;
    this.skipWords(UPDATE_OPTIONS);
    const start = this.pos;
    const refs = this.tableRefs(UPDATE_REFS_END);
    const assigned = this.setTargets(this.pos + 1);
    this.pos = start;
    this.scan("update");
    if (assigned === undefined) {
      // a SET list not followed: every table may be written (unless a derived table is there, which might be too)
      if (refs.some((r) => r.table === undefined)) throw UNKNOWN;
      for (const r of refs) this.sink.add(r.table!, "update");
      return;
    }
    const columns = new Map<Ref, ColumnRef[]>();
    for (const { qualifier, column } of assigned) {
      for (const r of this.resolve(refs, qualifier)) {
        const list = columns.get(r) ?? [];
        list.push(column);
        columns.set(r, list);
      }
    }
    for (const r of refs) {
      const list = columns.get(r);
      if (list !== undefined) this.sink.add(r.table!, "update", list);
    }
  }

  /**
   * `DELETE [LOW_PRIORITY] [QUICK] [IGNORE]` then `FROM t ...` (one table),
   * `t1[.*], ... FROM table_references` or `FROM t1[.*], ... USING table_references`.
   */
  private delete(): void {
    this.pos++;
    this.skipWords(DELETE_OPTIONS);
    const start = this.pos;
    const from = this.isWord("from");
    if (from) this.pos++;
    const targets = this.deleteTargets();
    if (from && !this.isWord("using")) {
      // single-table form: the rest ([AS] alias, PARTITION, WHERE, ORDER BY, LIMIT, RETURNING) is scanned
      if (targets.length !== 1 || targets[0]!.star) throw UNKNOWN;
      this.sink.add(targets[0]!.name, "delete");
    } else {
      this.expectWord(from ? "using" : "from");
      const refs = this.tableRefs(DELETE_REFS_END);
      for (const t of targets) for (const r of this.resolve(refs, t.name)) this.sink.add(r.table!, "delete");
    }
    this.pos = start;
    this.scan("delete");
  }

  /** The target list of a multi-table `DELETE`: `t`, `t.*`, `db.t`, `db.t.*`, comma-separated. */
  private deleteTargets(): { name: Name; star: boolean }[] {
    const out: { name: Name; star: boolean }[] = [];
    for (;;) {
      const parts = [this.ident()];
      let star = false;
      while (this.isOp(".")) {
        this.pos++;
        if (this.isOp("*")) {
          this.pos++;
          star = true;
          break;
        }
        parts.push(this.ident());
      }
      if (parts.length > 2) throw UNKNOWN;
      const last = parts[parts.length - 1]!;
      const name: Name = { name: last.v, quoted: false };
      if (parts.length === 2) name.schema = parts[0]!.v;
      out.push({ name, star });
      if (!this.isOp(",")) return out;
      this.pos++;
    }
  }

  /**
   * `LOAD {DATA | XML} [LOW_PRIORITY | CONCURRENT] [LOCAL] INFILE 'file'
   * [REPLACE | IGNORE] INTO TABLE t ... [SET col = expr, ...]`. Before `SET`
   * there are only options, names, strings and numbers; the `SET` list is scanned.
   */
  private load(): void {
    this.pos++;
    if (!this.isWord("data") && !this.isWord("xml")) throw UNKNOWN;
    this.pos++;
    this.skipWords(LOAD_OPTIONS);
    this.expectWord("infile");
    if (this.tok()?.t !== T.Str) throw UNKNOWN;
    this.pos++;
    const replace = this.isWord("replace");
    if (replace || this.isWord("ignore")) this.pos++;
    this.expectWord("into");
    this.expectWord("table");
    const target = this.name(2);
    for (let t = this.tok(); t !== undefined && !(this.isWord("set") && !this.isWord("character", this.pos - 1)); t = this.tok()) {
      if (t.t === T.Op && !"(),@.".includes(t.v)) throw UNKNOWN;
      if (t.t === T.Param) throw UNKNOWN;
      this.pos++;
    }
    this.scan("read");
    if (replace) this.sink.add(target, "delete");
    this.sink.add(target, "insert");
  }

  /**
   * Table references up to a word of `ends` (or the end), consumed:
   * comma lists, joins (`[NATURAL] [INNER | CROSS | LEFT [OUTER] | RIGHT
   * [OUTER]] JOIN`, `STRAIGHT_JOIN`) with `ON` / `USING`, parenthesised
   * groups, `PARTITION (...)`, aliases, index hints, derived tables and `JSON_TABLE`.
   */
  private tableRefs(ends: ReadonlySet<string>): Ref[] {
    const refs: Ref[] = [];
    let groups = 0;
    let factor = true;
    for (;;) {
      const t = this.tok();
      if (factor) {
        if (t === undefined) throw UNKNOWN;
        const next = this.tok(this.pos + 1);
        if (this.isOp("(") && next?.t === T.Word && (next.v === "select" || next.v === "with" || next.v === "values" || next.v === "table")) {
          this.pos = this.match[this.pos]! + 1;
          refs.push(this.derived());
        } else if (this.isOp("(")) {
          groups++;
          this.pos++;
          continue;
        } else if (this.isWord("json_table") && this.isOp("(", this.pos + 1)) {
          this.pos = this.match[this.pos + 1]! + 1;
          refs.push(this.derived());
        } else {
          const table = this.name(2);
          if (this.isWord("partition") && this.isOp("(", this.pos + 1)) this.pos = this.match[this.pos + 1]! + 1;
          const alias = this.alias();
          this.indexHints();
          refs.push(alias === undefined ? { table } : { table, alias });
        }
        factor = false;
        continue;
      }
      if (t === undefined || (t.t === T.Word && ends.has(t.v))) {
        if (groups !== 0) throw UNKNOWN;
        return refs;
      }
      if (this.isOp(",")) {
        factor = true;
        this.pos++;
      } else if (this.isOp(")")) {
        if (groups === 0) throw UNKNOWN;
        groups--;
        this.pos++;
      } else if (this.isWord("on")) {
        // the join condition: up to the next join, `,`, `)` or end of the list
        this.pos++;
        while (this.pos < this.end && !this.isOp(",") && !this.isOp(")") && this.joinLength(this.pos) === 0) {
          const w = this.tok()!;
          if (w.t === T.Word && ends.has(w.v)) break;
          this.pos = this.isOp("(") ? this.match[this.pos]! + 1 : this.pos + 1;
        }
      } else if (this.isWord("using") && this.isOp("(", this.pos + 1)) {
        this.pos = this.match[this.pos + 1]! + 1;
      } else {
        const n = this.joinLength(this.pos);
        if (n === 0) throw UNKNOWN;
        this.pos += n;
        factor = true;
      }
    }
  }

  /** After a derived table's `)`: `[AS] alias [(columns)]`. */
  private derived(): Ref {
    const alias = this.alias();
    if (alias === undefined) throw UNKNOWN;
    if (this.isOp("(")) this.pos = this.match[this.pos]! + 1;
    return { alias };
  }

  /** `[AS] alias`, lower-cased, if there is one. */
  private alias(): string | undefined {
    if (this.isWord("as")) {
      this.pos++;
      return lower(this.ident().v);
    }
    const t = this.tok();
    if (t === undefined || !(t.t === T.QId || (t.t === T.Word && !NOT_ALIAS.has(t.v)))) return undefined;
    return lower(this.ident().v);
  }

  /** `{USE | IGNORE | FORCE} {INDEX | KEY} [FOR {JOIN | ORDER BY | GROUP BY}] (...)`, any number. */
  private indexHints(): void {
    while ((this.isWord("use") || this.isWord("ignore") || this.isWord("force")) && (this.isWord("index", this.pos + 1) || this.isWord("key", this.pos + 1))) {
      this.pos += 2;
      if (this.isWord("for")) {
        this.pos++;
        if (this.isWord("join")) this.pos++;
        else if (this.isWord("order") || this.isWord("group")) {
          this.pos++;
          this.expectWord("by");
        } else throw UNKNOWN;
      }
      if (!this.isOp("(")) throw UNKNOWN;
      this.pos = this.match[this.pos]! + 1;
    }
  }

  /** How many tokens a join keyword sequence at `j` has (`LEFT OUTER JOIN`: 3), 0 if none. */
  private joinLength(j: number): number {
    const start = j;
    if (this.isWord("straight_join", j)) return 1;
    if (this.isWord("natural", j)) j++;
    if (this.isWord("inner", j) || this.isWord("cross", j)) j++;
    else if (this.isWord("left", j) || this.isWord("right", j)) {
      j++;
      if (this.isWord("outer", j)) j++;
    }
    return this.isWord("join", j) ? j + 1 - start : 0;
  }

  /**
   * The targets of a `SET` list from `j` (just after `SET`), read ahead:
   * `col = ...`, `t.col = ...`, `db.t.col = ...`; `undefined` when not followed.
   */
  private setTargets(j: number): { qualifier?: Name; column: ColumnRef }[] | undefined {
    if (!this.isWord("set", j - 1)) throw UNKNOWN;
    const out: { qualifier?: Name; column: ColumnRef }[] = [];
    for (;;) {
      const parts: ColumnRef[] = [];
      for (;;) {
        const c = this.column(j);
        if (c === undefined) return undefined;
        parts.push(c);
        j++;
        if (!this.isOp(".", j)) break;
        j++;
      }
      if (parts.length > 3 || !this.isOp("=", j)) return undefined;
      const column = parts.pop()!;
      const table = parts.pop();
      const qualifier: Name | undefined = table === undefined ? undefined : { name: table.name, quoted: false };
      if (qualifier !== undefined && parts.length === 1) qualifier.schema = parts[0]!.name;
      out.push(qualifier === undefined ? { column } : { qualifier, column });
      j = this.skipValue(j + 1, SET_STOPS);
      if (!this.isOp(",", j)) return out;
      j++;
    }
  }

  /**
   * The tables of `refs` a qualifier (`t` in `t.col`, or a `DELETE` target)
   * may name: by alias, or by table name when the table has no alias (MySQL
   * rejects `UPDATE a AS x SET a.c = 1`), without regard to case (MySQL's
   * own rule depends on `lower_case_table_names`); every table when there is
   * no qualifier (an unqualified column: which table has it is not known
   * here, and unknown when a derived table is there). A qualifier that names
   * a derived table, or nothing, is unknown.
   */
  private resolve(refs: readonly Ref[], qualifier: Name | undefined): Ref[] {
    const tables = refs.filter((r) => r.table !== undefined);
    if (qualifier === undefined) {
      // a derived table is not updatable, but should it hold the column, it is not known where that leads
      if (tables.length !== refs.length || tables.length === 0) throw UNKNOWN;
      return tables;
    }
    const q = lower(qualifier.name);
    const named = refs.filter(
      (r) => (qualifier.schema === undefined && r.alias === q) || (r.alias === undefined && r.table !== undefined && lower(r.table.name) === q),
    );
    if (named.length === 0 || named.some((r) => r.table === undefined)) throw UNKNOWN;
    return named;
  }

  /**
   * `UPDATE` only in `SELECT ... FOR UPDATE` and `ON DUPLICATE KEY UPDATE`
   * (an upsert); `INSERT(...)` and `TRUNCATE(...)` only as the string and
   * numeric functions; `DELETE` and `INTO` (`SELECT ... INTO`) never.
   */
  protected writeWord(i: number, mode: ScanMode): boolean {
    const prevWord = this.wordBefore(i);
    switch (this.toks[i]!.v) {
      case "update":
        if (prevWord === "for") return false;
        if (mode === "insert" && prevWord === "key" && this.wordBefore(i - 1) === "duplicate") return true;
        throw UNKNOWN;
      case "insert":
      case "truncate":
        if (this.isOp("(", i + 1)) return false;
        throw UNKNOWN;
      default:
        throw UNKNOWN;
    }
  }

  /** See {@link Recogniser.strictCheckCall}; a string (`"x"` is an identifier under `ANSI_QUOTES`) or number followed by `(` is unknown too. */
  protected checkCall(i: number): void {
    this.strictCheckCall(i, SAFE_FUNCTIONS, NOT_CALLS, keywordCall);
  }
}
