#!/usr/bin/env node
// Derives the MySQL/MariaDB and SQLite schemas from prisma/schema.prisma (the
// one source), and the MySQL one again with relationMode = "prisma"
// (prisma/mysql-rm: no foreign keys, as on PlanetScale), then runs `prisma
// generate` for all four, and for the schemas of the examples that have their
// own (examples/blog-api/schema.prisma: Postgres only, nothing derived), on a
// machine with no network.
//
// Derivation: prisma/<provider>/schema.prisma is the source with the
// datasource provider swapped and the client generated to
// generated/prisma-<provider>. What the provider does not support is adapted
// with a comment above it saying what and why; what cannot be adapted
// mechanically (Postgres extensions, multi-schema, Unsupported types, a native
// type with no counterpart) stops the script with a message naming it. The
// derived files are committed, next to their hand-written migrations
// (prisma/<provider>/migrations), so that a schema change shows as a diff of
// every provider's schema in the same commit.
//
// relationMode = "prisma": Prisma creates no foreign keys and emulates the
// referential actions (onDelete, onUpdate) in Prisma Client. The derived
// schema is the MySQL one with that line in the datasource, and an @@index on
// the fields of every relation that no index (@id, @@id, @unique, @@unique,
// @@index) starts with: the database no longer makes one for a foreign key,
// and Prisma warns about each one missing (https://pris.ly/d/relation-mode-prisma-indexes).
//
// Offline: the Prisma CLI tries to download a schema-engine binary before
// every command, even though `generate` never runs it; pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing executable skips that download.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = path.join(ROOT, "prisma/schema.prisma");

/**
 * Postgres native types (`@db.X`) and what each provider makes of them:
 * a string is the replacement attribute, `null` drops it (the provider's
 * default column type for the Prisma type is the right one), a missing entry
 * stops the script. SQLite has no native type attributes at all.
 */
const NATIVE_TYPES = {
  mysql: {
    Decimal: (args) => `@db.Decimal${args}`,
    VarChar: (args) => `@db.VarChar${args}`,
    Char: (args) => `@db.Char${args}`,
    Text: () => "@db.Text",
    Date: () => "@db.Date",
    Time: (args) => `@db.Time${args}`,
    // MySQL's TIMESTAMP ends in 2038 and follows the session time zone: DATETIME keeps what Postgres stores.
    Timestamp: (args) => `@db.DateTime${args}`,
    Timestamptz: (args) => `@db.DateTime${args}`,
    SmallInt: () => "@db.SmallInt",
    Integer: () => null,
    BigInt: () => null,
    DoublePrecision: () => null,
    Real: () => "@db.Float",
    Boolean: () => null,
    Uuid: () => "@db.Char(36)",
    Json: () => null,
    JsonB: () => null,
    ByteA: () => null,
  },
  sqlite: {},
};

/** Caveats of a Prisma type on a provider that needs no change to the schema, written above each field of that type. */
const TYPE_NOTES = {
  mysql: {
    Json: "MariaDB: JSON is LONGTEXT with a json_valid() check; object keys keep the order they were written in.",
  },
  sqlite: {
    Decimal: "SQLite has no decimal type: the column is DECIMAL (NUMERIC affinity), so a value is stored as an INTEGER or a REAL of 15 significant digits.",
    Json: "SQLite: a JSONB column type (NUMERIC affinity) holding the JSON text.",
  },
};

/** Caveats of a provider that hold for the whole schema, written in the derived file's header. */
const PROVIDER_NOTES = {
  mysql: [
    "String is VARCHAR(191), compared case-insensitively (utf8mb4_unicode_ci): unique and equality lookups ignore case.",
    "DateTime is DATETIME(3): milliseconds, no time zone (UTC as Prisma writes it).",
  ],
  sqlite: [
    "DateTime is ISO 8601 text (the better-sqlite3 adapter's default timestampFormat); BigInt is a 64-bit INTEGER.",
    "Equality and unique lookups are case-sensitive (BINARY collation), as on Postgres; contains/startsWith/endsWith use LIKE, case-insensitive for ASCII.",
  ],
};

/** Caveats of enums on a provider, written above each enum. */
const ENUM_NOTES = {
  mysql: "MySQL: an inline ENUM('...') column type on every field that uses it.",
  sqlite: "SQLite has no enum type: fields of this enum are TEXT columns; Prisma checks the values, the database does not.",
};

const SCALARS = new Set(["String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes"]);

/** Fails the derivation with a message saying what to do. */
function unsupported(provider, line, what) {
  throw new Error(
    `scripts/generate.mjs cannot derive the ${provider} schema: ${what}\n  at: ${line.trim()}\n` +
      "Adapt prisma/schema.prisma, or teach the derivation in scripts/generate.mjs how to map it (with a comment saying what and why).",
  );
}

/**
 * The derived schemas: a directory under prisma/ (and the suffix of the
 * generated client's directory), its provider, and its relation mode.
 * @type {Array<{ dir: string, provider: "mysql" | "sqlite", label: string, relationMode?: "prisma" }>}
 */
const VARIANTS = [
  { dir: "mysql", provider: "mysql", label: "MySQL/MariaDB" },
  { dir: "mysql-rm", provider: "mysql", label: 'MySQL/MariaDB with relationMode = "prisma" (no foreign keys, as on PlanetScale)', relationMode: "prisma" },
  { dir: "sqlite", provider: "sqlite", label: "SQLite" },
];

/**
 * The schema of `variant`, derived from the Postgres source text.
 * @param {string} source
 * @param {(typeof VARIANTS)[number]} variant
 */
function deriveSchema(source, variant) {
  const { provider } = variant;
  const lines = source.split("\n");
  const enums = new Set([...source.matchAll(/^enum\s+(\w+)\s*\{/gm)].map((m) => m[1]));
  const out = [
    `// DERIVED from prisma/schema.prisma by scripts/generate.mjs for ${variant.label}: do not edit.`,
    "// Edit the source and run `npm run generate`; then write the migration for this provider by hand",
    `// in prisma/${variant.dir}/migrations (see CONTRIBUTING.md). Adaptations are commented where they are.`,
    ...PROVIDER_NOTES[provider].map((note) => `// ${note}`),
    ...(variant.relationMode ? RELATION_MODE_NOTES.map((note) => `// ${note}`) : []),
    "",
  ];
  let block = "";
  /** The model being read, for relationMode = "prisma" (its relations and indexes). */
  let model;
  for (const line of lines) {
    const open = /^(generator|datasource|model|enum|view|type)\s+(\w+)\s*\{/.exec(line);
    const closesModel = block === "model" && /^\}/.test(line);
    if (open) block = open[1];
    else if (/^\}/.test(line)) block = "";
    if (/^\s*(extensions|schemas)\s*=/.test(line) || /@@schema\(/.test(line))
      unsupported(provider, line, "multi-schema and Postgres extensions exist on Postgres only");
    if (/Unsupported\(/.test(line)) unsupported(provider, line, "an Unsupported(...) type is the source database's own");

    if (variant.relationMode && block === "datasource" && /^\s*relationMode\s*=/.test(line))
      unsupported(provider, line, "the source sets a relationMode of its own");
    if (block === "datasource" && /^\s*provider\s*=/.test(line)) {
      out.push(line.replace(/"postgresql"/, `"${provider}"`));
      if (variant.relationMode) out.push(line.replace(/provider(\s*)=.*$/, `relationMode = "${variant.relationMode}"`));
      continue;
    }
    if (block === "generator" && /^\s*output\s*=/.test(line)) {
      const output = /"([^"]+)"/.exec(line)[1];
      const target = path.resolve(path.dirname(SOURCE), `${output}-${variant.dir}`);
      const relative = path
        .relative(path.join(path.dirname(SOURCE), variant.dir), target)
        .split(path.sep)
        .join("/");
      out.push(line.replace(/"[^"]+"/, `"${relative}"`));
      continue;
    }
    if (open?.[1] === "enum" && ENUM_NOTES[provider]) out.push(`// ${ENUM_NOTES[provider]}`);
    if (variant.relationMode && closesModel) out.push(...relationIndexes(model));
    if (open?.[1] === "model") model = { name: open[2], indexed: [], relations: [] };
    if (block !== "model") {
      out.push(line);
      continue;
    }
    if (model) readModelLine(model, line);
    const field = /^(\s+)(\w+)(\s+)(\w+)(\[\]|\?)?(.*)$/.exec(line);
    if (!field || field[2].startsWith("@@")) {
      out.push(line);
      continue;
    }
    const [, indent, name, gap, type, modifier = "", rest] = field;
    const notes = [];
    let newType = type;
    let newModifier = modifier;
    let attributes = rest;
    if (modifier === "[]" && (SCALARS.has(type) || enums.has(type))) {
      if (/@default\(/.test(rest)) unsupported(provider, line, "a scalar list with a default");
      notes.push(`${name}: ${type}[] becomes Json (a JSON array): ${provider} has no array columns, so has/hasEvery filters and push do not exist here.`);
      newType = "Json";
      newModifier = "";
    }
    attributes = attributes.replace(/@db\.(\w+)(\([^)]*\))?/g, (attr, native, args = "") => {
      const map = NATIVE_TYPES[provider][native];
      if (provider === "sqlite") {
        notes.push(`${name}: ${attr} dropped: SQLite has no native type attributes.`);
        return "";
      }
      if (!map) unsupported(provider, line, `the native type ${attr} has no ${provider} counterpart`);
      const replacement = map(args);
      if (replacement === null) notes.push(`${name}: ${attr} dropped: the ${provider} default column for ${type} is its counterpart.`);
      else if (replacement !== attr) notes.push(`${name}: ${attr} becomes ${replacement}.`);
      return replacement ?? "";
    });
    if (variant.relationMode && type === model.name && /@relation\([^)]*\bfields:/.test(attributes)) {
      const actions = [...attributes.matchAll(/\bon(Delete|Update):\s*(\w+)/g)].map((m) => `on${m[1]}: ${m[2]}`);
      attributes = attributes
        .replace(/,\s*on(Delete|Update):\s*\w+/g, "")
        .replace(/@relation\(([^)]*)\)/, "@relation($1, onDelete: NoAction, onUpdate: NoAction)");
      notes.push(
        `${name}: ${actions.length ? actions.join(", ") : "the default actions"} become NoAction (onDelete and onUpdate): relationMode = "prisma" allows ` +
          "no other action on a self-relation (a cycle; https://pris.ly/d/cyclic-referential-actions). Prisma emulates NoAction as Restrict on MySQL: " +
          "deleting a row others refer to fails, and changing its id too.",
      );
    }
    const typeNote = TYPE_NOTES[provider][newType];
    if (typeNote) notes.push(`${name}: ${typeNote}`);
    for (const note of notes) out.push(`${indent}// ${note}`);
    out.push(`${indent}${name}${gap}${newType}${newModifier}${attributes.replace(/\s+$/, "")}`);
  }
  return out.join("\n");
}

/** Caveats of relationMode = "prisma", written in the derived file's header. */
const RELATION_MODE_NOTES = [
  'relationMode = "prisma": no foreign keys in the database; Prisma Client emulates onDelete and onUpdate',
  "(Cascade, SetNull, Restrict, NoAction) with queries of its own. Raw SQL gets no referential actions at all.",
];

/** The field names in a `[a, b(sort: Desc)]` list. */
const fieldNames = (list) => list.split(",").map((f) => f.trim().replace(/\(.*$/, ""));

/** Records what one line of a model says about its indexes and relations. */
function readModelLine(model, line) {
  const block = /^\s+@@(id|unique|index)\(\s*(?:fields:\s*)?\[([^\]]*)\]/.exec(line);
  if (block) {
    model.indexed.push(fieldNames(block[2]));
    return;
  }
  const field = /^\s+(\w+)\s+\w+(\[\]|\?)?(.*)$/.exec(line);
  if (!field || field[1].startsWith("//")) return;
  if (/@(id|unique)\b/.test(field[3])) model.indexed.push([field[1]]);
  const fields = /@relation\([^)]*\bfields:\s*\[([^\]]*)\]/.exec(field[3]);
  if (fields) model.relations.push({ name: field[1], fields: fieldNames(fields[1]) });
}

/**
 * The `@@index` lines a model needs under relationMode = "prisma": one per
 * relation whose fields no index of the model starts with (Prisma's own rule
 * for its missing-index warning: the relation's fields, in order, are the
 * first fields of an @id, @@id, @unique, @@unique or @@index).
 */
function relationIndexes(model) {
  const out = [];
  const covered = (fields) => model.indexed.some((index) => fields.every((f, i) => index[i] === f));
  for (const relation of model.relations) {
    if (covered(relation.fields)) continue;
    out.push(`  // ${relation.name}: relationMode = "prisma" makes no foreign key, so no index comes with it: this is that index.`);
    out.push(`  @@index([${relation.fields.join(", ")}])`);
    model.indexed.push(relation.fields);
  }
  return out.length ? ["", ...out] : out;
}

/** Writes `prisma/<variant>/schema.prisma` when its text changed; returns its path. */
function writeDerived(variant) {
  const file = path.join(ROOT, "prisma", variant.dir, "schema.prisma");
  const text = deriveSchema(readFileSync(SOURCE, "utf8"), variant);
  mkdirSync(path.dirname(file), { recursive: true });
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
  return file;
}

/**
 * Schemas of the examples that have their own (Postgres only): generated as
 * they are, after the test schemas, each to the output its generator names.
 * Nothing is derived from them.
 */
const EXAMPLE_SCHEMAS = ["examples/blog-api/schema.prisma"].map((file) => path.join(ROOT, file));

const require = createRequire(import.meta.url);
let cli;
try {
  cli = require.resolve("prisma/build/index.js");
} catch {
  // Installed as a dependency of another project without the prisma CLI: nothing to generate.
  process.exit(0);
}
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
const args = process.argv.slice(2);
// With --schema, generate just that schema, as `prisma generate --schema` does.
const schemas = args.includes("--schema") ? [undefined] : [SOURCE, ...VARIANTS.map(writeDerived), ...EXAMPLE_SCHEMAS];
for (const schema of schemas) {
  const r = spawnSync(process.execPath, [cli, "generate", ...(schema ? ["--schema", schema] : []), ...args], { stdio: "inherit", env, cwd: ROOT });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
