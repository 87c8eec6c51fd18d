import { describe, expect, it } from "vitest";
import { modelsForTables, tablesWritten, type WrittenTables } from "../../src/deps/raw-sql.js";

/** Written tables as `schema.name` (quoted names in double quotes) plus op, for compact expectations. */
function short(sql: string): string[] | undefined {
  const r = tablesWritten(sql);
  return r?.tables.map((t) => `${t.op} ${t.schema === undefined ? "" : `${t.schema}.`}${t.quoted ? `"${t.name}"` : t.name}`);
}

describe("tablesWritten: recognised writes", () => {
  const cases: [string, string, string[]][] = [
    ["plain update", `UPDATE "Post" SET title = $1 WHERE id = $2`, ['update "Post"']],
    ["string literal containing SQL", `UPDATE "Post" SET title = 'DELETE FROM "User"' WHERE id = 1`, ['update "Post"']],
    ["'' escapes in a literal", `UPDATE "Post" SET title = 'it''s; DELETE FROM "User"; --' WHERE id = 1`, ['update "Post"']],
    ["E'' literal with backslash escapes", `UPDATE "Post" SET title = E'a\\'; DELETE FROM "User"; \\\\' WHERE id = 1`, ['update "Post"']],
    ["dollar-quoted literal", `UPDATE "Post" SET content = $$ DELETE FROM "User"; $$ WHERE id = $1`, ['update "Post"']],
    ["tagged dollar-quoted literal containing $$", `UPDATE "Post" SET content = $body$ $$ INSERT INTO "Tag" $$ $body$`, ['update "Post"']],
    ["line comment containing SQL", `-- DELETE FROM "User";\nUPDATE "Post" SET views = views + 1 -- ; TRUNCATE "Tag"`, ['update "Post"']],
    ["a line comment ends at a lone \\r, as Postgres reads it", `SELECT 1; -- comment\rDELETE FROM "Tag"`, ['delete "Tag"']],
    ["nested block comment", `/* outer /* DELETE FROM "User"; */ still comment; DROP TABLE x */ DELETE FROM "Post" WHERE id = 1`, ['delete "Post"']],
    ["lower-case unquoted name is folded", `update post set views = 0`, ["update post"]],
    ["upper-case unquoted name is folded", `UPDATE POST SET views = 0`, ["update post"]],
    ['quoted identifier with "" escape', `DELETE FROM "we""ird"`, ['delete "we"ird"']],
    ["schema-qualified, unquoted schema", `UPDATE public."Post" SET views = 0`, ['update public."Post"']],
    ["schema-qualified, quoted schema", `DELETE FROM "public".post`, ["delete public.post"]],
    ["catalog.schema.table", `DELETE FROM db.public.post`, ["delete public.post"]],
    ["update with AS alias", `UPDATE "Post" AS p SET views = p.views + 1 WHERE p.id = 1`, ['update "Post"']],
    ["delete with bare alias", `DELETE FROM comments c WHERE c."postId" = $1`, ["delete comments"]],
    ["update ... from other (other is read)", `UPDATE "Post" p SET title = u.name FROM "User" u WHERE p."authorId" = u.id`, ['update "Post"']],
    ["delete ... using other", `DELETE FROM comments USING "Post" WHERE comments."postId" = "Post".id AND "Post".published = false`, ["delete comments"]],
    ["update only / delete only", `UPDATE ONLY "Post" SET views = 0; DELETE FROM ONLY "Tag" *`, ['update "Post"', 'delete "Tag"']],
    ["insert ... values", `INSERT INTO "Post" (title, "authorId") VALUES ($1, $2), ($3, $4) RETURNING id`, ['insert "Post"']],
    ["insert ... select from another table", `INSERT INTO comments (body) SELECT body FROM "Post"`, ["insert comments"]],
    ["insert default values", `INSERT INTO "Tag" DEFAULT VALUES`, ['insert "Tag"']],
    ["insert with alias", `INSERT INTO "Tag" AS t (name) VALUES ('x') ON CONFLICT (name) DO NOTHING`, ['insert "Tag"']],
    [
      "insert ... on conflict do update is an upsert",
      `INSERT INTO "Tag" (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name`,
      ['upsert "Tag"'],
    ],
    [
      "data-modifying CTE then insert",
      `WITH moved AS (DELETE FROM "Tag" RETURNING *) INSERT INTO "Post" (title) SELECT name FROM moved`,
      ['delete "Tag"', 'insert "Post"'],
    ],
    [
      "several CTEs, recursive, materialized",
      `WITH RECURSIVE a(id) AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (UPDATE "User" SET name = 'x' RETURNING id) DELETE FROM "Post" WHERE "authorId" IN (SELECT id FROM b)`,
      ['update "User"', 'delete "Post"'],
    ],
    ["with ... select only (read-only CTE)", `WITH x AS (SELECT id FROM "Post") SELECT * FROM x`, []],
    ["truncate several tables", `TRUNCATE "Post", comments RESTART IDENTITY CASCADE`, ['truncate "Post"', "truncate comments"]],
    ["truncate table only", `TRUNCATE TABLE ONLY "Tag" CONTINUE IDENTITY RESTRICT`, ['truncate "Tag"']],
    [
      "merge",
      `MERGE INTO "Post" p USING (VALUES (1, 'a')) AS v(id, title) ON p.id = v.id
       WHEN MATCHED AND v.title IS NULL THEN DELETE
       WHEN MATCHED THEN UPDATE SET title = v.title
       WHEN NOT MATCHED THEN INSERT (id, title) VALUES (v.id, v.title)`,
      ['merge "Post"'],
    ],
    [
      "merge using a table",
      `MERGE INTO comments c USING "Post" p ON c."postId" = p.id WHEN NOT MATCHED BY SOURCE THEN DELETE WHEN MATCHED THEN DO NOTHING`,
      ["merge comments"],
    ],
    ["multiple statements, deduplicated", `UPDATE "Post" SET views = 0; DELETE FROM "Tag"; UPDATE "Post" SET title = ''; ;`, ['update "Post"', 'delete "Tag"']],
    [
      "known built-in functions are fine",
      `UPDATE "Post" SET title = upper(coalesce($1, 'x')), "createdAt" = now() WHERE id = ANY($2::int[]) AND lower(title) LIKE '%a%'`,
      ['update "Post"'],
    ],
    ["pg_catalog-qualified built-in", `UPDATE "Post" SET "createdAt" = pg_catalog.now()`, ['update "Post"']],
    [
      "type modifiers and casts",
      `UPDATE "Post" SET "createdAt" = $1::timestamp(3), title = CAST($2 AS varchar(20)), content = $3::character varying(10)`,
      ['update "Post"'],
    ],
    [
      "select-list aggregates with FILTER / OVER / WITHIN GROUP",
      `SELECT count(*) FILTER (WHERE published), row_number() OVER (PARTITION BY "authorId" ORDER BY id), percentile_cont(0.5) WITHIN GROUP (ORDER BY views) FROM "Post"`,
      [],
    ],
    [
      "select with subqueries, EXISTS, IN, FOR UPDATE",
      `SELECT * FROM "Post" p WHERE EXISTS (SELECT 1 FROM comments c WHERE c."postId" = p.id) AND id IN (1, 2) FOR NO KEY UPDATE OF p SKIP LOCKED`,
      [],
    ],
    ["values and table statements", `VALUES (1, 'a'); TABLE "Post"; (SELECT 1) UNION (SELECT 2)`, []],
    ["alias column lists without AS", `INSERT INTO "Tag" (name) SELECT v.n FROM (VALUES ('a'), ('b')) v(n)`, ['insert "Tag"']],
    ["set-returning function in FROM", `INSERT INTO "Tag" (name) SELECT 'tag' || g FROM generate_series(1, 10) AS g(n)`, ['insert "Tag"']],
    ["multi-column assignment", `UPDATE "Post" SET (title, content) = ($1, $2) WHERE id = $3`, ['update "Post"']],
    ["backtick identifiers", "DELETE FROM `Post` WHERE id = ?", ['delete "Post"']],
    ["only comments", `-- nothing here\n/* nor here */`, []],
    ["numbers and exponents", `UPDATE "Post" SET views = 1e-3 * 2.5E+2 + .5 + 0x1F WHERE id = 1`, ['update "Post"']],
  ];
  for (const [name, sql, expected] of cases) {
    it(name, () => expect(short(sql)).toEqual(expected));
  }

  it("reports TRUNCATE ... CASCADE with a flag, and not otherwise", () => {
    expect(tablesWritten(`TRUNCATE "Post", comments RESTART IDENTITY CASCADE`)?.cascade).toBe(true);
    expect(tablesWritten(`TRUNCATE "Post"`)).toEqual({ tables: [{ name: "Post", quoted: true, op: "truncate" }] });
  });

  it("reports the columns an UPDATE assigns", () => {
    const r = tablesWritten(
      `UPDATE post p SET views = views + 1, "Title" = (SELECT max(x) FROM y WHERE a IN (1, 2)), tags[1] = 'a', meta.x = ARRAY[1, 2], (a, "B") = (1, 2) FROM other WHERE p.id = 1`,
    );
    expect(r).toEqual({
      tables: [
        {
          name: "post",
          quoted: false,
          op: "update",
          columns: [
            { name: "views", quoted: false },
            { name: "Title", quoted: true },
            { name: "tags", quoted: false },
            { name: "meta", quoted: false },
            { name: "a", quoted: false },
            { name: "B", quoted: true },
          ],
        },
      ],
    } satisfies WrittenTables);
    // merged across statements
    expect(tablesWritten(`UPDATE "Post" SET a = 1; UPDATE "Post" SET b = 2, a = 3`)?.tables[0]?.columns).toEqual([
      { name: "a", quoted: false },
      { name: "b", quoted: false },
    ]);
    // no columns on other ops
    expect(tablesWritten(`INSERT INTO "Post" (title) VALUES ('x') ON CONFLICT (id) DO UPDATE SET title = 'y'`)?.tables[0]).not.toHaveProperty("columns");
  });

  it("returns no tables for plain SELECTs", () => {
    expect(tablesWritten(`SELECT * FROM "Post" WHERE title = 'UPDATE "User" SET x = 1'`)).toEqual({ tables: [] });
    expect(tablesWritten(`select 1`)).toEqual({ tables: [] });
  });
});

describe("tablesWritten: what it does not understand", () => {
  const unknown: [string, string][] = [
    ["DO block", `DO $$ BEGIN DELETE FROM "Post"; END $$`],
    ["function call in a select", `SELECT do_something()`],
    ["schema-qualified user function", `SELECT app.cleanup($1)`],
    ["quoted user function", `SELECT "doSomething"(1)`],
    ["user function inside an update", `UPDATE "Post" SET title = my_slug(title)`],
    ["user function in a where clause", `DELETE FROM "Post" WHERE purge_allowed(id)`],
    ["CALL", `CALL archive_posts()`],
    ["COPY", `COPY "Post" FROM STDIN`],
    ["ALTER", `ALTER TABLE "Post" ADD COLUMN x int`],
    ["CREATE", `CREATE TABLE x (id int)`],
    ["DROP", `DROP TABLE "Post"`],
    ["SELECT INTO creates a table", `SELECT * INTO backup FROM "Post"`],
    ["a recognised write followed by an unknown statement", `UPDATE "Post" SET views = 0; VACUUM "Post"`],
    ["EXPLAIN ANALYZE", `EXPLAIN ANALYZE DELETE FROM "Post"`],
    ["SET", `SET search_path TO other`],
    ["BEGIN", `BEGIN`],
    ["data-modifying statement in a subquery", `SELECT * FROM (DELETE FROM "Post" RETURNING *) x`],
    ["unterminated string", `UPDATE "Post" SET title = 'oops`],
    ["unterminated quoted identifier", `UPDATE "Post SET title = 1`],
    ["unterminated comment", `UPDATE "Post" SET title = 1 /* /* */`],
    ["unterminated dollar quote", `UPDATE "Post" SET title = $a$ x $b$`],
    ["unbalanced parentheses", `DELETE FROM "Post" WHERE id IN (1, 2`],
    ["semicolon inside parentheses", `DELETE FROM "Post" WHERE id IN (1; 2)`],
    ["WITH without a main statement", `WITH x AS (DELETE FROM "Post")`],
    ["recursive CTE with SEARCH clause", `WITH RECURSIVE t(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n SET o SELECT * FROM t`],
    ["empty quoted identifier", `DELETE FROM ""`],
    ['U&"..." identifier', `DELETE FROM U&"P\\006Fst"`],
    ["table name that is not an identifier", `DELETE FROM 42`],
    ["update without SET", `UPDATE "Post" WHERE id = 1`],
    ["stray tokens after TRUNCATE", `TRUNCATE "Post" NOW`],
    ["user function after a keyword-like word", `UPDATE "Post" SET title = overlay(title PLACING my_fn() FROM 1)`],
    ["user function in RETURNING", `DELETE FROM "Post" RETURNING audit(id)`],
    ["user function in FROM of an INSERT ... SELECT", `INSERT INTO "Tag" (name) SELECT * FROM make_tags()`],
    ["user function in a CTE", `WITH x AS (SELECT side_effect()) UPDATE "Post" SET views = 0`],
  ];
  for (const [name, sql] of unknown) {
    it(name, () => expect(tablesWritten(sql)).toBeUndefined());
  }

  it("returns undefined for a non-string", () => {
    expect(tablesWritten(undefined as unknown as string)).toBeUndefined();
  });

  it("is linear in the SQL length", () => {
    const values = Array.from({ length: 20_000 }, (_, i) => `(${i}, 'it''s $$ -- /* ${i}', E'\\'x')`).join(", ");
    const sql = `/* head */ INSERT INTO comments (id, body, extra) VALUES ${values}; UPDATE "Post" SET views = views + 1`;
    expect(sql.length).toBeGreaterThan(500_000);
    const start = performance.now();
    expect(short(sql)).toEqual(["insert comments", 'update "Post"']);
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});

describe("modelsForTables", () => {
  const models = {
    User: { dbName: null },
    Post: { dbName: null },
    Comment: { dbName: "comments" },
    Tag: {},
  };
  const joinTables = [{ table: "_PostToTag", models: ["Post", "Tag"] }];
  const map = (sql: string) => modelsForTables(tablesWritten(sql)!.tables, models, joinTables);

  it("maps quoted names exactly and unquoted names case-insensitively", () => {
    expect(map(`UPDATE "Post" SET views = 0`)).toEqual(["Post"]);
    expect(map(`update post set views = 0`)).toEqual(["Post"]);
    expect(map(`UPDATE "post" SET views = 0`)).toBeUndefined();
  });

  it("maps through @@map (dbName), not the model name", () => {
    expect(map(`DELETE FROM comments`)).toEqual(["Comment"]);
    expect(map(`DELETE FROM "comments"`)).toEqual(["Comment"]);
    expect(map(`DELETE FROM "Comment"`)).toBeUndefined();
  });

  it("maps implicit many-to-many join tables to both models", () => {
    expect(map(`DELETE FROM "_PostToTag" WHERE "A" = 1`)).toEqual(["Post", "Tag"]);
    expect(map(`insert into _posttotag ("A", "B") values (1, 2)`)).toEqual(["Post", "Tag"]);
  });

  it("ignores the schema qualifier", () => {
    expect(map(`UPDATE other."Post" SET views = 0; DELETE FROM public.comments`)).toEqual(["Post", "Comment"]);
  });

  it("returns undefined when a table is not a model's", () => {
    expect(map(`UPDATE "Post" SET views = 0; DELETE FROM audit_log`)).toBeUndefined();
    expect(map(`DELETE FROM _prisma_migrations`)).toBeUndefined();
  });

  it("returns no models for no tables, and treats a missing quoted flag as unquoted", () => {
    expect(modelsForTables([], models)).toEqual([]);
    expect(modelsForTables([{ name: "USER" }, { schema: "x", name: "tag" }], models)).toEqual(["User", "Tag"]);
  });
});
