/**
 * Raw-SQL invalidation in MySQL / MariaDB and SQLite: a table per dialect,
 * each row SQL → the tables written, as `op [schema.]name[(columns)]`, or
 * "whole namespace" (not understood: the caller bumps everything).
 *
 * Names and case. Postgres folds unquoted names and matches quoted ones
 * exactly (see raw-sql.test.ts). Here names are reported as written with
 * `quoted: false`, and so matched to models without regard to case:
 * - MySQL: table names are case-sensitive on Linux (`lower_case_table_names=0`)
 *   and not on Windows or macOS, quoted or not; Prisma maps names exactly, so
 *   a case-blind match finds the model in every setting (on Linux it may also
 *   bump a model for another table that differs only in case: broader, never
 *   stale). Column names and aliases compare the same way.
 * - SQLite: names ignore (ASCII) case, quoted or not (`"Post"` is `post`).
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { resolveOptions } from "../../src/config";
import { rawWriteDeps, type WriteContext } from "../../src/deps/writes";
import { inlineSchema, runtimeDataModel } from "../../src/prisma/internals";
import { modelsForTables, type SqlDialect, tablesWritten } from "../../src/deps/raw-sql.js";
import { CacheRuntime } from "../../src/runtime";

const WHOLE = "whole namespace";
type Expected = string[] | typeof WHOLE;
type Row = [why: string, sql: string, expected: Expected];

function written(sql: string, dialect: SqlDialect): Expected {
  const r = tablesWritten(sql, dialect);
  if (r === undefined) return WHOLE;
  for (const t of r.tables) expect(t.quoted).toBe(false);
  return r.tables.map(
    (t) => `${t.op} ${t.schema === undefined ? "" : `${t.schema}.`}${t.name}${t.columns ? `(${t.columns.map((c) => c.name).join(", ")})` : ""}`,
  );
}

const MYSQL: Row[] = [
  // quoting, qualification, case
  ["backtick identifiers, ? placeholders", "UPDATE `Post` SET `title` = ? WHERE id = ?", ["update Post(title)"]],
  ["unquoted names are reported as written", "update post set Views = 0", ["update post(Views)"]],
  ["db.table: the database is the schema", "UPDATE `app`.`Post` SET views = 0", ["update app.Post(views)"]],
  ["three-part table name", "DELETE FROM a.b.c", WHOLE],
  ["`` escape in a backtick identifier", "DELETE FROM `we``ird`", ["delete we`ird"]],
  ["backtick identifiers that look like keywords", "DELETE FROM `select` WHERE `from` = 1 AND `delete` = 2", ["delete select"]],
  ["keywords in any case", "dElEtE fRoM `Post` wHeRe 1", ["delete Post"]],
  ["one table in two cases is one entry (first spelling)", "UPDATE post SET a = 1; UPDATE POST SET b = 2; DELETE FROM c", ["update post(a, b)", "delete c"]],
  // strings and comments
  ['"..." is a string under the default sql_mode', `UPDATE Post SET title = "DELETE FROM User; -- " WHERE id = 1`, ["update Post(title)"]],
  ["'' and \"\" escapes", `UPDATE Post SET title = 'it''s; DELETE FROM User', body = "say ""x""; TRUNCATE User"`, ["update Post(title, body)"]],
  ["a backslash that is the same in every sql_mode", String.raw`UPDATE Post SET path = 'C:\\dir\\x' WHERE id = 1`, ["update Post(path)"]],
  [
    "a backslash escape read both ways: NO_BACKSLASH_ESCAPES ends the string early and adds a statement",
    String.raw`UPDATE a SET x = 'x\'; UPDATE b SET y = 1; -- '`,
    ["update a(x)", "update b(y)"],
  ],
  ["\\' that does not lex without backslash escapes", String.raw`UPDATE Post SET title = 'it\'s' WHERE id = 1`, WHOLE],
  ["# comment to end of line", "DELETE FROM a # ; DELETE FROM b\nWHERE id = 1", ["delete a"]],
  ["a lone \\r does not end a # comment (as MySQL reads it)", "SELECT 1 # c\rDELETE FROM a", []],
  ["-- comment needs a space", "DELETE FROM a -- ; DELETE FROM b\nWHERE id = 1", ["delete a"]],
  ["--1 is two minus signs, not a comment", "UPDATE a SET x = x --1\n; DELETE FROM b", ["update a(x)", "delete b"]],
  ["-- at the very end", "DELETE FROM a --", ["delete a"]],
  ["/* */ comments are not nested", "/* a */ DELETE FROM a /* b */", ["delete a"]],
  ["a /* inside a comment is not read", "/* /* */ DELETE FROM a /* */", WHOLE],
  ["unterminated comment", "DELETE FROM a /* x", WHOLE],
  ["optimizer hint", "UPDATE /*+ NO_MERGE(x) */ a SET x = 1", ["update a(x)"]],
  ["executable comment without version is SQL", "INSERT /*! IGNORE */ INTO a VALUES (1)", ["insert a"]],
  ["executable comment adding a statement", "DELETE FROM a /*! ; DELETE FROM b */", ["delete a", "delete b"]],
  ["versioned executable comment: with and without it", "UPDATE a SET x = 1 /*!50700 , y = 2 */", ["update a(x, y)"]],
  ["versioned executable comment adding a statement", "DELETE FROM a /*!80000 ; DELETE FROM b */", ["delete a", "delete b"]],
  ["MariaDB-only executable comment", "/*M!100500 DELETE FROM b; */ DELETE FROM a", ["delete b", "delete a"]],
  ["a lower-case /*m! is a plain comment", "/*m!100500 DELETE FROM b; */ DELETE FROM a", ["delete a"]],
  ["executable comments of two versions", "DELETE FROM a /*!50700 WHERE 1 */ /*!80000 LIMIT 1 */", WHOLE],
  ["six-digit version after /*!", "DELETE FROM a /*!800001 LIMIT 1 */", WHOLE],
  ["a string holding */ inside an executable comment", "SELECT 1 /*! , '*/' */", WHOLE],
  ["a line comment inside an executable comment", "SELECT 1 /*!50000 , 2 -- x */\n , 3 */", WHOLE],
  ["a user function inside an executable comment", "UPDATE a SET x = 1 /*! , y = my_fn() */", WHOLE],
  // INSERT, REPLACE
  ["insert", "INSERT INTO a (id, x) VALUES (?, ?), (?, ?)", ["insert a"]],
  ["INTO is optional", "INSERT a VALUES (1)", ["insert a"]],
  ["insert ignore, priorities, SET form", "INSERT LOW_PRIORITY IGNORE INTO `a` SET x = 1", ["insert a"]],
  ["insert ... partition", "INSERT INTO a PARTITION (p0) (id) VALUES (1)", ["insert a"]],
  ["on duplicate key update is an upsert", "INSERT INTO a (id, x) VALUES (1, 2) ON DUPLICATE KEY UPDATE x = VALUES(x)", ["upsert a"]],
  ["row alias", "INSERT INTO a (id, x) VALUES (1, 2) AS new (i, y) ON DUPLICATE KEY UPDATE x = new.y", ["upsert a"]],
  ["insert ... select ... on duplicate key update", "INSERT INTO a (id, x) SELECT id, y FROM b WHERE y > 0 ON DUPLICATE KEY UPDATE x = b.y", ["upsert a"]],
  ["insert ... table, values row()", "INSERT INTO a TABLE b; INSERT INTO c VALUES ROW(1, 2), ROW(3, 4)", ["insert a", "insert c"]],
  ["replace deletes and inserts", "REPLACE INTO a (id, x) VALUES (1, 2)", ["delete a", "insert a"]],
  ["replace ... select, INTO optional", "REPLACE LOW_PRIORITY a SELECT * FROM b", ["delete a", "insert a"]],
  // UPDATE
  ["single table, modifiers, ORDER BY, LIMIT", "UPDATE LOW_PRIORITY IGNORE a SET x = x + 1 ORDER BY id DESC LIMIT 10", ["update a(x)"]],
  ["single table, alias, qualified column", "UPDATE `Post` p SET p.`views` = p.views + 1 WHERE p.id = 1", ["update Post(views)"]],
  ["keywords inside values", `UPDATE a SET x = 'WHERE', y = "SET b.y = 1", z = CASE WHEN x THEN 1 ELSE 2 END`, ["update a(x, y, z)"]],
  ["columns that look like keywords", "UPDATE a SET `order` = 1, `set` = 2", ["update a(order, set)"]],
  ["multi-table: only the table SET assigns is written", "UPDATE a JOIN b ON a.id = b.id SET a.x = b.y", ["update a(x)"]],
  ["multi-table: both tables assigned", "UPDATE a JOIN b ON a.id = b.id SET a.x = 1, b.y = 2", ["update a(x)", "update b(y)"]],
  [
    "multi-table through aliases",
    "UPDATE `Post` AS p INNER JOIN `User` u ON p.authorId = u.id SET u.name = p.title, p.views = 0",
    ["update Post(views)", "update User(name)"],
  ],
  ["aliases that are the other table's name", "UPDATE a AS b JOIN b AS a ON a.id = b.id SET a.x = 1", ["update b(x)"]],
  ["an alias in another case (case-blind: broader)", "UPDATE a AS P SET p.x = 1", ["update a(x)"]],
  ["unqualified column in a join: every table may hold it", "UPDATE a JOIN b USING (id) SET x = 1", ["update a(x)", "update b(x)"]],
  ["comma join", "UPDATE a, b SET a.x = b.y WHERE a.id = b.id", ["update a(x)"]],
  ["db.table.column", "UPDATE app.a JOIN b ON a.id = b.id SET app.a.x = 1", ["update app.a(x)"]],
  ["derived table read in a join", "UPDATE a JOIN (SELECT id, max(y) AS m FROM b GROUP BY id) AS d (id, m) ON d.id = a.id SET a.x = d.m", ["update a(x)"]],
  ["parenthesised join, LEFT JOIN", "UPDATE (a JOIN b ON a.id = b.id) LEFT OUTER JOIN c ON c.id = a.id SET c.z = 1", ["update c(z)"]],
  ["LEFT(...) in a join condition is a function", "UPDATE a JOIN b ON LEFT(a.s, 2) = b.s SET b.y = 1", ["update b(y)"]],
  ["natural and straight joins", "UPDATE a NATURAL JOIN b STRAIGHT_JOIN c ON c.id = b.id SET b.y = 1", ["update b(y)"]],
  ["index hints", "UPDATE a USE INDEX (PRIMARY) JOIN b FORCE INDEX FOR JOIN (idx) ON a.id = b.id SET a.x = 1", ["update a(x)"]],
  ["a SET list not followed: every table in the join", 'UPDATE a JOIN b ON a.id = b.id SET "x" = 1', ["update a", "update b"]],
  ["unqualified column beside a derived table", "UPDATE a JOIN (SELECT id FROM b) d ON d.id = a.id SET x = 1", WHOLE],
  ["SET on a derived table", "UPDATE a JOIN (SELECT * FROM b) d ON d.id = a.id SET d.y = 1", WHOLE],
  ["SET on a table not in the statement", "UPDATE a SET c.x = 1", WHOLE],
  ["SET on an aliased table by its name", "UPDATE a AS x SET a.c = 1", WHOLE],
  ["update without SET", "UPDATE a WHERE id = 1", WHOLE],
  // DELETE
  ["delete", "DELETE FROM a WHERE id = ?", ["delete a"]],
  ["delete modifiers, ORDER BY, LIMIT", "DELETE LOW_PRIORITY QUICK IGNORE FROM a WHERE id > 1 ORDER BY id LIMIT 1", ["delete a"]],
  ["delete with an alias", "DELETE FROM a AS x WHERE x.id = 1", ["delete a"]],
  ["multi-table delete", "DELETE a, b FROM a JOIN b ON a.id = b.id WHERE a.x = 1", ["delete a", "delete b"]],
  ["multi-table delete through aliases", "DELETE p FROM `Post` p LEFT JOIN `User` u ON u.id = p.authorId WHERE u.id IS NULL", ["delete Post"]],
  ["delete ... using, with .*", "DELETE FROM a.*, b USING a INNER JOIN b INNER JOIN c WHERE a.id = b.id AND b.id = c.id", ["delete a", "delete b"]],
  ["delete ... using, one target", "DELETE FROM a USING a JOIN b ON a.id = b.id", ["delete a"]],
  ["qualified delete target", "DELETE app.a FROM app.a JOIN b ON a.id = b.id", ["delete app.a"]],
  ["delete target not in the join", "DELETE c FROM a JOIN b ON a.id = b.id", WHOLE],
  ["delete target naming an aliased table by its name", "DELETE a FROM a AS q", WHOLE],
  ["two tables in single-table form", "DELETE FROM a, b WHERE 1", WHOLE],
  // TRUNCATE, LOAD DATA
  ["truncate", "TRUNCATE TABLE `Post`; TRUNCATE a", ["truncate Post", "truncate a"]],
  ["truncate two tables", "TRUNCATE a, b", WHOLE],
  [
    "load data ... replace",
    String.raw`LOAD DATA LOCAL INFILE '/tmp/a.csv' REPLACE INTO TABLE a FIELDS TERMINATED BY ',' ENCLOSED BY '"' LINES TERMINATED BY '\n' IGNORE 1 LINES (id, @x) SET x = upper(@x)`,
    ["delete a", "insert a"],
  ],
  ["load data ... ignore, character set", "LOAD DATA INFILE 'f' IGNORE INTO TABLE app.a CHARACTER SET utf8mb4 (id, x)", ["insert app.a"]],
  ["load xml", "LOAD XML LOCAL INFILE 'f' INTO TABLE a ROWS IDENTIFIED BY '<row>'", ["insert a"]],
  ["load data calling a user function", "LOAD DATA INFILE 'f' INTO TABLE a (id, @x) SET x = my_fn(@x)", WHOLE],
  // WITH
  ["with ... update", "WITH x AS (SELECT id FROM b) UPDATE a JOIN x ON a.id = x.id SET a.y = 1", ["update a(y)"]],
  [
    "with recursive ... delete",
    "WITH RECURSIVE x (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 5) DELETE FROM a WHERE id IN (SELECT n FROM x)",
    ["delete a"],
  ],
  ["with ... select", "WITH x AS (SELECT 1) SELECT * FROM x", []],
  // reads
  ["select for update, keywords in strings", "SELECT * FROM a WHERE s = 'DELETE FROM b' FOR UPDATE", []],
  ["select modifiers", "SELECT SQL_CALC_FOUND_ROWS DISTINCT x FROM a LIMIT 1; SELECT FOUND_ROWS()", []],
  ["built-ins", "SELECT IF(x > 1, 'a', 'b'), IFNULL(y, 0), DATE_FORMAT(NOW(), '%Y'), JSON_EXTRACT(j, '$.a') FROM a", []],
  ["INSERT(), TRUNCATE() and REPLACE() are functions", "SELECT INSERT('abc', 1, 1, 'x'), TRUNCATE(1.55, 1), REPLACE(s, 'a', 'b') FROM a", []],
  ["match ... against, cast, convert", "SELECT MATCH (t) AGAINST ('x' IN BOOLEAN MODE), CAST(x AS DECIMAL(10, 2)), CONVERT(y, CHAR(10)) FROM a", []],
  ["json_table", "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (n INT PATH '$')) AS j", []],
  ["values, table, parenthesised union", "VALUES ROW(1, 2); TABLE a; (SELECT 1) UNION (SELECT 2)", []],
  ["only comments", "# nothing\n-- here\n/* at all */", []],
  // what it does not follow
  ["SET of a session variable", "SET FOREIGN_KEY_CHECKS = 0", WHOLE],
  ["SET of a user variable", "SET @x = 1", WHOLE],
  ["CALL", "CALL archive_posts()", WHOLE],
  ["DO", "DO SLEEP(1)", WHOLE],
  ["LOCK TABLES", "LOCK TABLES a WRITE", WHOLE],
  ["DDL", "CREATE TABLE x (id INT); ALTER TABLE a ADD c INT; DROP TABLE a", WHOLE],
  ["RENAME TABLE", "RENAME TABLE a TO b", WHOLE],
  ["a transaction", "START TRANSACTION", WHOLE],
  ["HANDLER", "HANDLER a OPEN", WHOLE],
  ["SELECT ... INTO a variable", "SELECT x INTO @x FROM a", WHOLE],
  ["SELECT ... INTO OUTFILE", "SELECT * FROM a INTO OUTFILE '/tmp/x'", WHOLE],
  ["a stored function (qualified)", "SELECT app.fn(1)", WHOLE],
  ["a user function in an update", "UPDATE a SET x = my_fn(x)", WHOLE],
  ["a user function in an upsert", "INSERT INTO a VALUES (1) ON DUPLICATE KEY UPDATE x = my_fn()", WHOLE],
  ["a quoted function name", "UPDATE a SET x = `upper`(x)", WHOLE],
  ['"fn"(...): a call under ANSI_QUOTES', 'SELECT "fn"(1)', WHOLE],
  ['"table": an identifier under ANSI_QUOTES', 'UPDATE "a" SET x = 1', WHOLE],
  ["MariaDB sequences: NEXTVAL writes", "SELECT NEXTVAL(s)", WHOLE],
  ["a MySQL-only built-in (a stored function on MariaDB)", "SELECT ANY_VALUE(x) FROM a", WHOLE],
  ["a MariaDB-only built-in (a stored function on MySQL)", "SELECT NVL(x, 1) FROM a", WHOLE],
  ["keywords that may name a stored function, out of place", "SELECT columns(1), of(2)", WHOLE],
  ["json_table as a scalar call", "SELECT json_table(1)", WHOLE],
  ["LATERAL (a function on MariaDB)", "UPDATE a JOIN LATERAL (SELECT 1 AS y) AS l SET a.x = l.y", WHOLE],
  ["ANY, MEMBER OF, AGAINST where they stand", "DELETE FROM a WHERE id = ANY (SELECT id FROM b) OR 1 MEMBER OF (j) OR MATCH (s) AGAINST ('x')", ["delete a"]],
  ["a write inside a subquery", "DELETE FROM a WHERE EXISTS (DELETE FROM b)", WHOLE],
  ["EXPLAIN", "EXPLAIN DELETE FROM a", WHOLE],
  ["a write followed by something unknown", "REPLACE INTO a VALUES (1); GRANT ALL ON *.* TO x", WHOLE],
  ["unterminated string", "UPDATE a SET x = 'oops", WHOLE],
  ["unterminated backtick", "UPDATE `a SET x = 1", WHOLE],
  ["unbalanced parentheses", "DELETE FROM a WHERE id IN (1, 2", WHOLE],
];

const SQLITE: Row[] = [
  // quoting, qualification, case
  ["plain update, ? placeholders", "UPDATE Post SET title = ? WHERE id = ?", ["update Post(title)"]],
  ['"quoted" names: reported as written, unquoted', `UPDATE "Post" SET "title" = ?`, ["update Post(title)"]],
  ["[bracket] identifiers", "DELETE FROM [Post] WHERE [id] = 1", ["delete Post"]],
  ["[bracket] holding quotes", `DELETE FROM [a"b'c]`, [`delete a"b'c`]],
  ["backtick identifiers", "DELETE FROM `Post`", ["delete Post"]],
  [
    "identifiers that look like keywords",
    `UPDATE "update" SET "set" = 1, [where] = 2; DELETE FROM [delete] WHERE "from" = 1`,
    ["update update(set, where)", "delete delete"],
  ],
  ["main. qualification", "UPDATE main.Post SET views = 0", ["update main.Post(views)"]],
  ["attached database", `DELETE FROM aux."Post"`, ["delete aux.Post"]],
  ["three-part name", "INSERT INTO a.b.c VALUES (1)", WHOLE],
  ["one table in two spellings is one entry", `DELETE FROM post; DELETE FROM "POST"`, ["delete post"]],
  ["keywords in any case", "DeLeTe FrOm Post", ["delete Post"]],
  // strings and comments
  ["'' escape, SQL inside a string", "UPDATE Post SET title = 'it''s; DELETE FROM Tag' WHERE id = 1", ["update Post(title)"]],
  ["a backslash is not an escape", String.raw`UPDATE Post SET title = 'C:\' WHERE id = 1`, ["update Post(title)"]],
  ["line comment", "-- DELETE FROM Tag\nDELETE FROM Post --no space needed", ["delete Post"]],
  ["a lone \\r does not end a -- comment", "SELECT 1 -- c\rDELETE FROM Tag", []],
  ["comments are not nested", "/* /* */ DELETE FROM Post", ["delete Post"]],
  ["an unterminated comment runs to the end", "DELETE FROM Post /* ; DELETE FROM Tag", ["delete Post"]],
  ["named and numbered parameters", "UPDATE Post SET title = :title, views = @v, slug = $slug WHERE id = ?1", ["update Post(title, views, slug)"]],
  // INSERT, REPLACE, upserts
  ["insert", "INSERT INTO Tag (name) VALUES (?), (?)", ["insert Tag"]],
  ["insert default values", "INSERT INTO Tag DEFAULT VALUES", ["insert Tag"]],
  [
    "insert or ignore / abort / fail / rollback",
    "INSERT OR IGNORE INTO Tag VALUES (1); INSERT OR ABORT INTO Tag VALUES (2); INSERT OR FAIL INTO a VALUES (3); INSERT OR ROLLBACK INTO b VALUES (4)",
    ["insert Tag", "insert a", "insert b"],
  ],
  ["insert or replace deletes and inserts", "INSERT OR REPLACE INTO Tag (id, name) VALUES (1, 'a')", ["delete Tag", "insert Tag"]],
  ["replace into", "REPLACE INTO Tag VALUES (1, 'a')", ["delete Tag", "insert Tag"]],
  ["on conflict do update is an upsert", "INSERT INTO Tag (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET n = n + 1 WHERE excluded.n > 0", ["upsert Tag"]],
  ["on conflict do nothing", "INSERT INTO Tag (name) VALUES ('x') ON CONFLICT DO NOTHING", ["insert Tag"]],
  [
    "several on conflict clauses, an alias",
    "INSERT INTO Tag AS t (id, name) VALUES (9, 'x') ON CONFLICT (id) DO NOTHING ON CONFLICT DO UPDATE SET name = t.name || 'x'",
    ["upsert Tag"],
  ],
  ["insert ... select ... where true on conflict", "INSERT INTO Tag (name) SELECT name FROM Post WHERE true ON CONFLICT (name) DO NOTHING", ["insert Tag"]],
  ["replace into with an upsert clause", "REPLACE INTO Tag VALUES (1, 'a') ON CONFLICT DO UPDATE SET name = 'b'", ["delete Tag", "upsert Tag"]],
  ["returning", "INSERT INTO Tag (name) VALUES ('x') RETURNING id; DELETE FROM Post WHERE id = 1 RETURNING *", ["insert Tag", "delete Post"]],
  // UPDATE, DELETE
  ["update or ignore", "UPDATE OR IGNORE Post SET slug = 'a'", ["update Post(slug)"]],
  ["update or replace may delete rows in the way", "UPDATE OR REPLACE Post SET slug = 'a' WHERE id = 1", ["delete Post", "update Post(slug)"]],
  ["alias and INDEXED BY", "UPDATE Post AS p INDEXED BY post_slug SET views = p.views + 1 WHERE p.slug = 'x'", ["update Post(views)"]],
  ["NOT INDEXED", "DELETE FROM Post AS p NOT INDEXED WHERE p.id = 1", ["delete Post"]],
  ["row-value assignment", "UPDATE Post SET (title, content) = ('a', 'b') WHERE id = 1", ["update Post(title, content)"]],
  [
    "update ... from",
    "UPDATE Post SET views = s.v FROM (SELECT postId, count(*) AS v FROM comments GROUP BY postId) AS s WHERE s.postId = Post.id",
    ["update Post(views)"],
  ],
  ["update ... order by ... limit", "UPDATE Post SET views = 0 ORDER BY id LIMIT 1", ["update Post(views)"]],
  ["delete", "DELETE FROM Post WHERE id IN (SELECT postId FROM comments)", ["delete Post"]],
  // WITH
  ["with ... delete", "WITH old AS (SELECT id FROM Post WHERE views = 0) DELETE FROM Post WHERE id IN old", ["delete Post"]],
  [
    "with recursive ... insert",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) INSERT INTO Tag (name) SELECT 'tag' || x FROM n",
    ["insert Tag"],
  ],
  ["with ... materialized ... update", "WITH x AS MATERIALIZED (SELECT 1) UPDATE Post SET views = 1", ["update Post(views)"]],
  ["with ... replace", "WITH x AS (SELECT 1, 'a') REPLACE INTO Tag SELECT * FROM x", ["delete Tag", "insert Tag"]],
  ["with ... select", "WITH x AS (SELECT 1) SELECT * FROM x", []],
  // reads and built-ins
  [
    "built-ins in an update",
    "UPDATE Post SET updatedAt = datetime('now'), title = upper(coalesce(?, title)), meta = json_set(meta, '$.a', 1) WHERE instr(title, 'x') > 0",
    ["update Post(updatedAt, title, meta)"],
  ],
  ["table-valued json_each", "SELECT value FROM json_each(?)", []],
  ["cast with a type modifier", "SELECT CAST(x AS DECIMAL(10, 2)) FROM t", []],
  ["window functions and FILTER", "SELECT row_number() OVER (PARTITION BY a ORDER BY b), count(*) FILTER (WHERE c) FROM t", []],
  ["values", "VALUES (1, 'a'), (2, 'b')", []],
  // what it does not follow
  ["PRAGMA", "PRAGMA foreign_keys = ON", WHOLE],
  ["ATTACH", "ATTACH DATABASE 'x.db' AS aux", WHOLE],
  ["VACUUM", "VACUUM", WHOLE],
  ["a transaction", "BEGIN IMMEDIATE", WHOLE],
  ["DDL", "CREATE TABLE x (id INTEGER); DROP TABLE x", WHOLE],
  ["a trigger", "CREATE TRIGGER t AFTER INSERT ON Post BEGIN DELETE FROM Tag; END", WHOLE],
  ["TRUNCATE is not SQLite", "TRUNCATE Post", WHOLE],
  ["load_extension", "SELECT load_extension('x')", WHOLE],
  ["an application-defined function", "UPDATE Post SET title = my_fn(title)", WHOLE],
  ["a quoted function name", `SELECT "upper"(1)`, WHOLE],
  ["a qualified function name", "SELECT main.fn(1)", WHOLE],
  ["REGEXP calls an application-defined function", "DELETE FROM Post WHERE title REGEXP 'a'", WHOLE],
  ["keywords that may name an application-defined function, out of place", "SELECT by(1), conflict(2)", WHOLE],
  ["FILTER(, OVER(, BY( where they stand", "SELECT count(*) FILTER (WHERE a) OVER (PARTITION BY (b) ORDER BY (c)) FROM t GROUP BY (d)", []],
  ["filter as a call", "SELECT filter(1)", WHOLE],
  ["a table-valued pragma", "SELECT * FROM pragma_table_info('Post')", WHOLE],
  ["an unknown conflict resolution", "INSERT OR WHATEVER INTO Post VALUES (1)", WHOLE],
  ["update alias without AS", "UPDATE Post p SET views = 0", WHOLE],
  ["a write inside a subquery", "DELETE FROM Post WHERE id IN (SELECT id FROM (DELETE FROM Tag RETURNING id))", WHOLE],
  ["unterminated [bracket]", "DELETE FROM [Post", WHOLE],
  ["unterminated string", "UPDATE Post SET title = 'oops", WHOLE],
];

describe.each([
  ["mysql", MYSQL],
  ["sqlite", SQLITE],
] as const)("tablesWritten(sql, %j)", (dialect, rows) => {
  it.each(rows)("%s", (_why, sql, expected) => {
    expect(written(sql, dialect)).toEqual(expected);
  });
});

describe("the dialects read the same text differently", () => {
  const cases: [sql: string, postgresql: Expected, mysql: Expected, sqlite: Expected][] = [
    [`DELETE FROM "Post"`, ['delete "Post"'], WHOLE, ["delete Post"]],
    ["/* /* */ DELETE FROM a", WHOLE, WHOLE, ["delete a"]],
    ["DELETE FROM a # ; DELETE FROM b", ["delete a", "delete b"], ["delete a"], ["delete a", "delete b"]],
    [String.raw`UPDATE a SET x = E'\''`, ["update a"], WHOLE, WHOLE],
    ["DELETE FROM a WHERE x = $$;$$", ["delete a"], WHOLE, WHOLE],
    ["DELETE FROM [a]", WHOLE, WHOLE, ["delete a"]],
    ["SELECT 1; -- x\rDELETE FROM a", ["delete a"], [], []],
  ];
  it.each(cases)("%s", (sql, postgresql, mysql, sqlite) => {
    const pg = tablesWritten(sql, "postgresql");
    expect(pg === undefined ? WHOLE : pg.tables.map((t) => `${t.op} ${t.quoted ? `"${t.name}"` : t.name}`)).toEqual(postgresql);
    expect(written(sql, "mysql")).toEqual(mysql);
    expect(written(sql, "sqlite")).toEqual(sqlite);
  });

  it("defaults to postgresql", () => {
    expect(tablesWritten(`DELETE FROM "Post"`)).toEqual(tablesWritten(`DELETE FROM "Post"`, "postgresql"));
  });

  it("returns undefined for a dialect it does not know", () => {
    expect(tablesWritten("DELETE FROM a", "mssql" as SqlDialect)).toBeUndefined();
  });

  // How long it takes is the benchmarks' business; here, a 500 KB statement is read right (a quadratic reading would not end).
  it("reads a 500 KB statement, with MySQL's second readings", () => {
    const values = Array.from({ length: 20_000 }, (_, i) => `(${i}, 'it''s -- /* ${i}', "a\\\\b # ${i}")`).join(", ");
    // six readings: three of the backslashes, each with and without the versioned comment
    const sql = `/*!50700 SELECT 1; */ INSERT INTO comments (id, body, extra) VALUES ${values}; UPDATE Post SET views = views + 1`;
    expect(sql.length).toBeGreaterThan(500_000);
    expect(written(sql, "mysql")).toEqual(["insert comments", "update Post(views)"]);
  });
});

describe("modelsForTables and rawWriteDeps with MySQL and SQLite names", () => {
  const models = { Post: { dbName: null }, Comment: { dbName: "comments" } };
  const map = (sql: string, dialect: SqlDialect) => modelsForTables(tablesWritten(sql, dialect)!.tables, models);

  it("maps names without regard to case, quoted or not", () => {
    for (const dialect of ["mysql", "sqlite"] as const) {
      expect(map("DELETE FROM POST", dialect)).toEqual(["Post"]);
      expect(map("DELETE FROM `post`", dialect)).toEqual(["Post"]);
      expect(map("DELETE FROM `COMMENTS`", dialect)).toEqual(["Comment"]);
      expect(map("DELETE FROM `Comment`", dialect)).toBeUndefined();
    }
    expect(map(`DELETE FROM "post"`, "sqlite")).toEqual(["Post"]);
  });

  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
  const runtime = new CacheRuntime(resolveOptions({ ttl: 60 }), runtimeDataModel(client)!, inlineSchema(client));
  const ctx = (runtime.writePath as unknown as { ctx: WriteContext }).ctx;

  it("matches assigned columns without regard to case: an update of Post.id cascades to comments", () => {
    // Comment.post has onUpdate: Cascade on Post.id
    expect(rawWriteDeps(ctx, "UPDATE `Post` SET `ID` = 5 WHERE id = 1", "mysql")).toContain("b:Comment");
    expect(rawWriteDeps(ctx, "UPDATE Post SET ID = 5 WHERE id = 1", "sqlite")).toContain("b:Comment");
    expect(rawWriteDeps(ctx, "UPDATE `Post` SET `views` = 5", "mysql")).not.toContain("b:Comment");
  });

  it("bumps deletes for REPLACE, and everything for SQL it does not follow", () => {
    expect(rawWriteDeps(ctx, "REPLACE INTO `Post` (id, title) VALUES (1, 'a')", "mysql")).toContain("b:Comment");
    expect(rawWriteDeps(ctx, "PRAGMA foreign_keys = OFF", "sqlite")).toContain("*");
    expect(rawWriteDeps(ctx, `DELETE FROM "Post"`)).not.toContain("*");
    expect(rawWriteDeps(ctx, `DELETE FROM "Post"`, "mysql")).toContain("*");
  });
});
