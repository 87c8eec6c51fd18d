/**
 * Relation facts the runtime data model lacks: which side holds the foreign
 * key, the referential actions (with Prisma's defaults applied), ids and
 * uniques, `@map` / `@@map` names, and implicit many-to-many join tables.
 *
 * They are parsed from the Prisma schema text the generated client carries at
 * runtime (`client._engineConfig.inlineSchema`). The parser is small and
 * tolerant of formatting, but it is not a validator: it assumes a schema that
 * `prisma generate` accepted. When it cannot make sense of its input,
 * {@link parseRelations} returns `undefined` and the caller falls back to
 * conservative invalidation (every related model).
 * @module
 */
import { SchemaError } from "../errors.js";

/** A referential action, as spelled in the schema. */
export type ReferentialAction = "Cascade" | "Restrict" | "NoAction" | "SetNull" | "SetDefault";

const ACTIONS: ReadonlySet<string> = new Set<ReferentialAction>(["Cascade", "Restrict", "NoAction", "SetNull", "SetDefault"]);

/** Actions through which a write to the referenced row changes referencing rows. */
const CHANGING: ReadonlySet<ReferentialAction> = new Set<ReferentialAction>(["Cascade", "SetNull", "SetDefault"]);

/** The side of a relation that holds the foreign key (`@relation(fields: [...], references: [...])`). */
export interface ForeignKey {
  /** Model holding the foreign key. */
  model: string;
  /** Name of the relation field on {@link ForeignKey.model}. */
  field: string;
  /** Relation name: the explicit one, or Prisma's generated `AToB` (names sorted). */
  relationName: string;
  /** Foreign-key scalar fields on {@link ForeignKey.model}, in order. */
  fields: string[];
  /** Referenced model. */
  target: string;
  /** Referenced scalar fields on {@link ForeignKey.target}, paired with {@link ForeignKey.fields}. */
  references: string[];
  /** What deleting a referenced row does; Prisma's default applied when not explicit. */
  onDelete: ReferentialAction;
  /** What changing a referenced field does; Prisma's default (`Cascade`) applied when not explicit. */
  onUpdate: ReferentialAction;
  /**
   * Whether the relation is optional: the relation field's type ends with `?`
   * and every foreign-key field is optional too (Prisma's "referential arity").
   */
  optional: boolean;
}

/** An implicit many-to-many relation and its join table. */
export interface JoinTable {
  /** Table name: `_` followed by the relation name, e.g. `_PostToTag`. */
  table: string;
  /** Relation name (explicit, or the two model names sorted and joined with `To`). */
  relationName: string;
  /** The two models, sorted as Prisma sorts them (column `A` references the first). Equal for a self-relation. */
  models: [string, string];
}

/** One field of a model. */
export interface FieldFacts {
  /** Field name. */
  name: string;
  /** Base type name (`Int`, `User`, `Role`, `Unsupported`...), without `?` or `[]`. */
  type: string;
  /** `object` for a relation field, `enum`, `composite` (a `type` block), `unsupported`, or `scalar`. */
  kind: "scalar" | "enum" | "object" | "composite" | "unsupported";
  /** Type ends with `?`. */
  optional: boolean;
  /** Type ends with `[]`. */
  list: boolean;
  /** Database column name (`@map`, else the field name); `null` for relation fields. */
  column: string | null;
  /** `@updatedAt`: Prisma sets it on every update. */
  updatedAt: boolean;
}

/** Facts about one model (or view). */
export interface ModelFacts {
  /** Model name, as in the schema. */
  name: string;
  /** `@@map` name, or `null` when the table is named after the model (as in the runtime data model). */
  dbName: string | null;
  /** `@@schema` name (multi-schema), or `null`. */
  schema: string | null;
  /** Whether this is a `view` block rather than a `model`. */
  view: boolean;
  /** Fields in schema order. */
  fields: FieldFacts[];
  /** Scalar (and enum) field name -> column name (`@map`, else the field name). */
  columns: Record<string, string>;
  /** `@id` / `@@id` fields, or `null` when the model has none. */
  id: string[] | null;
  /** Field sets of `@unique` and `@@unique`, in schema order (the id not included). */
  uniques: string[][];
  /**
   * Compound (`@@id` / `@@unique` with more than one field) keys as they appear
   * in Prisma's `WhereUniqueInput`: the `name:` argument, else the fields joined
   * with `_` (e.g. `tenant_slug`) -> fields.
   */
  compoundKeys: Record<string, string[]>;
}

/** Everything {@link parseRelations} extracts from a schema. */
export interface RelationFacts {
  /** Models (and views) by name. */
  models: Record<string, ModelFacts>;
  /** Every relation side that holds a foreign key, in schema order. */
  relations: ForeignKey[];
  /** Implicit many-to-many relations, in schema order of their first side. */
  joinTables: JoinTable[];
}

// ---------------------------------------------------------------------------
// Lexer

type Tok = { t: "id"; v: string } | { t: "str"; v: string } | { t: "num"; v: string } | { t: "nl" } | { t: "p"; v: string };

const ID_START = /[A-Za-z_]/;
const ID_PART = /[A-Za-z0-9_-]/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0" };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  const n = src.length;
  let i = 0;
  while (i < n) {
    const c = src[i]!;
    if (c === "\n") {
      out.push({ t: "nl" });
      i++;
    } else if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v" || c === "\uFEFF") {
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      i = end < 0 ? n : end;
    } else if (c === '"') {
      let v = "";
      i++;
      for (;;) {
        if (i >= n || src[i] === "\n") throw new SchemaError("unterminated string");
        const d = src[i]!;
        if (d === '"') break;
        if (d === "\\") {
          const e = src[i + 1];
          if (e === undefined) throw new SchemaError("unterminated string");
          v += ESCAPES[e] ?? e;
          i += 2;
        } else {
          v += d;
          i++;
        }
      }
      i++;
      out.push({ t: "str", v });
    } else if (ID_START.test(c)) {
      let j = i + 1;
      while (j < n && ID_PART.test(src[j]!)) j++;
      out.push({ t: "id", v: src.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(src[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(src[j]!)) j++;
      out.push({ t: "num", v: src.slice(i, j) });
      i = j;
    } else if (c === "@" && src[i + 1] === "@") {
      out.push({ t: "p", v: "@@" });
      i += 2;
    } else {
      out.push({ t: "p", v: c });
      i++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parser

/** An attribute argument value. */
type Value = { k: "str"; v: string } | { k: "num"; v: string } | { k: "ref"; name: string; args?: Arg[] } | { k: "arr"; items: Value[] };
interface Arg {
  name?: string;
  value: Value;
}
interface Attr {
  name: string;
  args: Arg[];
}
interface RawField {
  name: string;
  type: string;
  optional: boolean;
  list: boolean;
  attrs: Attr[];
}
interface RawBlock {
  keyword: string;
  name: string;
  fields: RawField[];
  /** Block attributes (`@@x`) interleaved with fields: index of the field they follow. */
  blockAttrs: { attr: Attr; after: number }[];
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(offset = 0): Tok | undefined {
    return this.toks[this.i + offset];
  }
  private isP(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.t === "p" && t.v === v;
  }
  private expectP(v: string): void {
    if (!this.isP(v)) throw new SchemaError(`expected ${v}`);
    this.i++;
  }
  private ident(): string {
    const t = this.peek();
    if (t === undefined || t.t !== "id") throw new SchemaError("expected identifier");
    this.i++;
    return t.v;
  }
  private skipNl(): void {
    while (this.peek()?.t === "nl") this.i++;
  }
  /** A dotted name, e.g. `db.VarChar`. */
  private dotted(): string {
    let name = this.ident();
    while (this.isP(".")) {
      this.i++;
      name += "." + this.ident();
    }
    return name;
  }

  blocks(): RawBlock[] {
    const out: RawBlock[] = [];
    for (;;) {
      this.skipNl();
      const t = this.peek();
      if (t === undefined) return out;
      const keyword = this.ident();
      const name = this.ident();
      this.skipNl();
      if (keyword === "model" || keyword === "view") out.push(this.modelBody(keyword, name));
      else if (keyword === "enum" || keyword === "type" || keyword === "generator" || keyword === "datasource") {
        this.skipBraces();
        if (keyword === "enum" || keyword === "type") out.push({ keyword, name, fields: [], blockAttrs: [] });
      } else throw new SchemaError(`unknown block ${keyword}`);
    }
  }

  private skipBraces(): void {
    this.expectP("{");
    let depth = 1;
    while (depth > 0) {
      const t = this.peek();
      if (t === undefined) throw new SchemaError("unterminated block");
      if (t.t === "p" && t.v === "{") depth++;
      else if (t.t === "p" && t.v === "}") depth--;
      this.i++;
    }
  }

  private modelBody(keyword: string, name: string): RawBlock {
    const block: RawBlock = { keyword, name, fields: [], blockAttrs: [] };
    this.expectP("{");
    for (;;) {
      this.skipNl();
      if (this.isP("}")) {
        this.i++;
        return block;
      }
      if (this.isP("@@")) {
        this.i++;
        block.blockAttrs.push({ attr: this.attrRest(), after: block.fields.length });
      } else {
        block.fields.push(this.field());
      }
      this.endOfLine();
    }
  }

  private endOfLine(): void {
    const t = this.peek();
    if (t === undefined) throw new SchemaError("unterminated block");
    if (t.t === "nl") this.i++;
    else if (!(t.t === "p" && t.v === "}")) throw new SchemaError("unexpected token after field");
  }

  private field(): RawField {
    const name = this.ident();
    const type = this.dotted();
    if (this.isP("(")) this.args(); // Unsupported("...")
    let optional = false;
    let list = false;
    if (this.isP("[") && this.isP("]", 1)) {
      this.i += 2;
      list = true;
    }
    if (this.isP("?")) {
      this.i++;
      optional = true;
    }
    if (this.isP("!")) this.i++; // legacy required marker
    const attrs: Attr[] = [];
    while (this.isP("@")) {
      this.i++;
      attrs.push(this.attrRest());
    }
    return { name, type, optional, list, attrs };
  }

  private attrRest(): Attr {
    const name = this.dotted();
    return { name, args: this.isP("(") ? this.args() : [] };
  }

  private args(): Arg[] {
    this.expectP("(");
    const out: Arg[] = [];
    for (;;) {
      this.skipNl();
      if (this.isP(")")) {
        this.i++;
        return out;
      }
      let name: string | undefined;
      const t = this.peek();
      if (t?.t === "id" && this.isP(":", 1)) {
        name = t.v;
        this.i += 2;
        this.skipNl();
      }
      out.push(name === undefined ? { value: this.value() } : { name, value: this.value() });
      this.skipNl();
      if (this.isP(",")) this.i++;
      else if (!this.isP(")")) throw new SchemaError("expected , or )");
    }
  }

  private value(): Value {
    const t = this.peek();
    if (t === undefined) throw new SchemaError("unexpected end");
    if (t.t === "str") {
      this.i++;
      return { k: "str", v: t.v };
    }
    if (t.t === "num") {
      this.i++;
      return { k: "num", v: t.v };
    }
    if (t.t === "id") {
      const name = this.dotted();
      return this.isP("(") ? { k: "ref", name, args: this.args() } : { k: "ref", name };
    }
    if (t.t === "p" && t.v === "[") {
      this.i++;
      const items: Value[] = [];
      for (;;) {
        this.skipNl();
        if (this.isP("]")) {
          this.i++;
          return { k: "arr", items };
        }
        items.push(this.value());
        this.skipNl();
        if (this.isP(",")) this.i++;
        else if (!this.isP("]")) throw new SchemaError("expected , or ]");
      }
    }
    throw new SchemaError("unexpected value");
  }
}

// ---------------------------------------------------------------------------
// Interpretation

function arg(attr: Attr, name: string, position?: number): Value | undefined {
  const named = attr.args.find((a) => a.name === name);
  if (named) return named.value;
  if (position === undefined) return undefined;
  return attr.args.filter((a) => a.name === undefined)[position]?.value;
}

function str(v: Value | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.k !== "str") throw new SchemaError("expected a string");
  return v.v;
}

/** Field names of a `[a, b(sort: Desc)]` list. */
function fieldList(v: Value | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (v.k !== "arr") throw new SchemaError("expected a field list");
  return v.items.map((item) => {
    if (item.k !== "ref") throw new SchemaError("expected a field name");
    return item.name;
  });
}

function action(v: Value | undefined): ReferentialAction | undefined {
  if (v === undefined) return undefined;
  if (v.k !== "ref" || !ACTIONS.has(v.name)) throw new SchemaError("unknown referential action");
  return v.name as ReferentialAction;
}

/** Prisma's generated relation name for an unnamed relation. */
function generatedRelationName(a: string, b: string): string {
  return a < b ? `${a}To${b}` : `${b}To${a}`;
}

/**
 * Parse the relation facts out of a Prisma schema.
 *
 * @param schema The schema text, typically `client._engineConfig.inlineSchema`.
 * @returns The facts, or `undefined` when `schema` is missing, empty, not a
 * string, declares no model, or contains something the parser does not
 * understand. Never throws: on `undefined` the caller must fall back to
 * conservative invalidation (e.g. every model reachable through relations).
 */
export function parseRelations(schema: string | undefined | null): RelationFacts | undefined {
  if (typeof schema !== "string" || schema.trim() === "") return undefined;
  try {
    return interpret(new Parser(lex(schema)).blocks());
  } catch (err) {
    if (err instanceof SchemaError) return undefined;
    throw err;
  }
}

function interpret(blocks: RawBlock[]): RelationFacts | undefined {
  const modelBlocks = blocks.filter((b) => b.keyword === "model" || b.keyword === "view");
  if (modelBlocks.length === 0) return undefined;
  const modelNames = new Set(modelBlocks.map((b) => b.name));
  const enumNames = new Set(blocks.filter((b) => b.keyword === "enum").map((b) => b.name));
  const typeNames = new Set(blocks.filter((b) => b.keyword === "type").map((b) => b.name));
  if (modelNames.size !== modelBlocks.length) throw new SchemaError("duplicate model");

  const models: Record<string, ModelFacts> = {};
  const relations: ForeignKey[] = [];
  /** Relation fields that hold no foreign key, for pairing implicit m-n sides. */
  const backSides: { model: string; field: RawField; relationName: string }[] = [];

  for (const block of modelBlocks) {
    const fields: FieldFacts[] = [];
    const columns: Record<string, string> = {};
    let id: string[] | null = null;
    const uniques: { fields: string[]; at: number }[] = [];
    const compoundKeys: Record<string, string[]> = {};
    let dbName: string | null = null;
    let dbSchema: string | null = null;
    const byName = new Map(block.fields.map((f) => [f.name, f]));

    for (let index = 0; index < block.fields.length; index++) {
      const f = block.fields[index]!;
      const kind: FieldFacts["kind"] = modelNames.has(f.type)
        ? "object"
        : enumNames.has(f.type)
          ? "enum"
          : typeNames.has(f.type)
            ? "composite"
            : f.type === "Unsupported"
              ? "unsupported"
              : "scalar";
      let column: string | null = null;
      if (kind !== "object") {
        const map = f.attrs.find((a) => a.name === "map");
        column = (map && str(arg(map, "name", 0))) ?? f.name;
        columns[f.name] = column;
      }
      fields.push({ name: f.name, type: f.type, kind, optional: f.optional, list: f.list, column, updatedAt: f.attrs.some((a) => a.name === "updatedAt") });
      if (f.attrs.some((a) => a.name === "id")) id = [f.name];
      if (f.attrs.some((a) => a.name === "unique")) uniques.push({ fields: [f.name], at: index });
      if (kind !== "object") continue;

      const rel = f.attrs.find((a) => a.name === "relation");
      const relationName = (rel && str(arg(rel, "name", 0))) ?? generatedRelationName(block.name, f.type);
      const fkFields = rel && fieldList(arg(rel, "fields"));
      const references = rel && fieldList(arg(rel, "references"));
      if (fkFields === undefined && references === undefined) {
        backSides.push({ model: block.name, field: f, relationName });
        continue;
      }
      if (fkFields === undefined || references === undefined || fkFields.length === 0 || fkFields.length !== references.length) {
        throw new SchemaError("fields and references must pair up");
      }
      const fkRaw = fkFields.map((name) => byName.get(name));
      if (fkRaw.some((x) => x === undefined)) throw new SchemaError("unknown foreign-key field");
      const optional = f.optional && fkRaw.every((x) => x!.optional);
      relations.push({
        model: block.name,
        field: f.name,
        relationName,
        fields: fkFields,
        target: f.type,
        references,
        onDelete: action(arg(rel!, "onDelete")) ?? (optional ? "SetNull" : "Restrict"),
        onUpdate: action(arg(rel!, "onUpdate")) ?? "Cascade",
        optional,
      });
    }

    for (const { attr, after } of block.blockAttrs) {
      if (attr.name === "map") dbName = str(arg(attr, "name", 0)) ?? null;
      else if (attr.name === "schema") dbSchema = str(arg(attr, "name", 0)) ?? null;
      else if (attr.name === "id" || attr.name === "unique") {
        const set = fieldList(arg(attr, "fields", 0));
        if (set === undefined || set.length === 0) throw new SchemaError(`@@${attr.name} without fields`);
        if (attr.name === "id") id = set;
        else uniques.push({ fields: set, at: after - 0.5 });
        if (set.length > 1) compoundKeys[str(arg(attr, "name")) ?? set.join("_")] = set;
      }
    }

    models[block.name] = {
      name: block.name,
      dbName,
      schema: dbSchema,
      view: block.keyword === "view",
      fields,
      columns,
      id,
      uniques: uniques.sort((a, b) => a.at - b.at).map((u) => u.fields),
      compoundKeys,
    };
  }

  // Implicit many-to-many: a list relation field with no foreign key whose
  // opposite side (same relation name, pointing back) is a list too.
  const joinTables: JoinTable[] = [];
  const seenTables = new Set<string>();
  const sideKey = (model: string, type: string, relationName: string): string => `${model}\0${type}\0${relationName}`;
  const sidesByKey = new Map<string, (typeof backSides)[number][]>();
  for (const side of backSides) {
    const key = sideKey(side.model, side.field.type, side.relationName);
    const list = sidesByKey.get(key);
    if (list) list.push(side);
    else sidesByKey.set(key, [side]);
  }
  for (const side of backSides) {
    if (!side.field.list) continue;
    const other = sidesByKey.get(sideKey(side.field.type, side.model, side.relationName))?.find((o) => o !== side);
    if (other === undefined || !other.field.list) continue;
    const table = `_${side.relationName}`;
    if (seenTables.has(table)) continue;
    seenTables.add(table);
    const pair: [string, string] = side.model < side.field.type ? [side.model, side.field.type] : [side.field.type, side.model];
    joinTables.push({ table, relationName: side.relationName, models: pair });
  }

  return { models, relations, joinTables };
}

// ---------------------------------------------------------------------------
// Referential effects

const byTargetCache = new WeakMap<RelationFacts, Map<string, ForeignKey[]>>();

function byTarget(facts: RelationFacts): Map<string, ForeignKey[]> {
  let index = byTargetCache.get(facts);
  if (index === undefined) {
    index = new Map();
    for (const fk of facts.relations) {
      const list = index.get(fk.target);
      if (list) list.push(fk);
      else index.set(fk.target, [fk]);
    }
    byTargetCache.set(facts, index);
  }
  return index;
}

function intersects(a: readonly string[], b: readonly string[]): boolean {
  return a.some((x) => b.includes(x));
}

class Effects {
  readonly out = new Set<string>();
  private readonly deleted = new Set<string>();
  private readonly updated = new Set<string>();
  private readonly index: Map<string, ForeignKey[]>;

  constructor(
    private readonly facts: RelationFacts,
    private readonly joins = true,
  ) {
    this.index = byTarget(facts);
  }

  private joinPartners(model: string): void {
    if (!this.joins) return;
    for (const jt of this.facts.joinTables) {
      if (jt.models[0] === model) this.out.add(jt.models[1]);
      else if (jt.models[1] === model) this.out.add(jt.models[0]);
    }
  }

  delete(model: string): void {
    if (this.deleted.has(model)) return;
    this.deleted.add(model);
    this.joinPartners(model);
    for (const fk of this.index.get(model) ?? []) {
      if (fk.onDelete === "Cascade") {
        this.out.add(fk.model);
        this.delete(fk.model);
      } else if (fk.onDelete === "SetNull" || fk.onDelete === "SetDefault") {
        this.out.add(fk.model);
        this.update(fk.model, fk.fields);
      }
    }
  }

  update(model: string, fields: readonly string[]): void {
    const key = `${model}\0${[...new Set(fields)].sort().join("\0")}`;
    if (this.updated.has(key)) return;
    this.updated.add(key);
    const id = this.facts.models[model]?.id;
    if (id == null || intersects(id, fields)) this.joinPartners(model);
    for (const fk of this.index.get(model) ?? []) {
      if (CHANGING.has(fk.onUpdate) && intersects(fk.references, fields)) {
        this.out.add(fk.model);
        this.update(fk.model, fk.fields);
      }
    }
  }
}

/** Options of {@link affectedByDelete} and {@link affectedByUpdate}. */
export interface AffectedOptions {
  /**
   * Whether the partners in implicit many-to-many relations count.
   * @default true
   */
  joinPartners?: boolean;
}

/**
 * Models whose rows deleting rows of `model` can change through the
 * database's referential actions: `onDelete: Cascade` (transitively: the
 * cascaded deletes apply the child's own rules), `SetNull` and `SetDefault`
 * (which change the child's foreign-key fields, and so apply the child's
 * `onUpdate` rules to its own children), plus the partners of `model` (and of
 * every cascaded model) in implicit many-to-many relations, whose join rows go
 * away. `Restrict` and `NoAction` change nothing (the delete fails instead).
 *
 * @param o.joinPartners Whether the partners in implicit many-to-many
 * relations count (they do by default; a caller that bumps the join tables'
 * own dependencies leaves them out).
 * @returns Affected models in discovery order; `model` itself is included only
 * when reached through a relation (a self-relation). Empty for an unknown model.
 */
export function affectedByDelete(facts: RelationFacts, model: string, o: AffectedOptions = {}): string[] {
  const e = new Effects(facts, o.joinPartners ?? true);
  e.delete(model);
  return [...e.out];
}

/**
 * Models whose rows changing `updatedFields` of rows of `model` can change
 * through `onUpdate: Cascade` / `SetNull` / `SetDefault`: only relations whose
 * `references` intersect `updatedFields` fire, and transitively so when the
 * child's changed foreign-key fields are themselves referenced. Changing the
 * `@id` of a model also rewrites its implicit many-to-many join rows, so its
 * join partners are included then.
 *
 * @param updatedFields Scalar field names (not column names) being written.
 * @param o.joinPartners Whether the partners in implicit many-to-many relations count (see {@link affectedByDelete}).
 * @returns Affected models in discovery order; `model` itself is included only
 * when reached through a relation (a self-relation).
 */
export function affectedByUpdate(facts: RelationFacts, model: string, updatedFields: readonly string[], o: AffectedOptions = {}): string[] {
  if (updatedFields.length === 0) return [];
  const e = new Effects(facts, o.joinPartners ?? true);
  e.update(model, updatedFields);
  return [...e.out];
}
