/**
 * Randomized precision: two OS processes (test/support/precision-child.ts:
 * each its own cached client, Redis connections and L1, on one namespace,
 * so they share L2 and the bus) read and write one database, one operation
 * at a time, in seeded random order. Every read through a cached client
 * must equal the same read through an uncached client in the test's
 * process (run alongside it: no write runs between them, so both see one
 * state), compared in the codec's encoding (Date, BigInt, Decimal and bytes
 * by type and value): a difference is a stale read (the precise
 * dependencies of src/deps/selection.ts and src/deps/changes.ts missed a
 * change). Models: User (self-relation), Profile, Post, Comment (@@map),
 * Tag (implicit m-n), Group, Membership (compound id), and Sample (every
 * scalar type).
 *
 * Reads: findMany, findFirst, findUnique (and their OrThrow forms), count,
 * aggregate and groupBy, with equality, range, `in`, OR/NOT and relation
 * filters, scalar and relation orders, take/skip/cursor/distinct, and
 * include/select of relations two levels deep (also without the id, and
 * `_count`). Writes: every model write (nested creates, connect, disconnect,
 * set, upsert, the *Many forms, referential actions) and `$executeRaw`
 * UPDATEs. Writes that fail in the database (a unique conflict, a missing
 * row) are part of the run.
 *
 * Most steps are probes: new reads of the rows a write names (by key and
 * foreign key, in filters and includes), the write, then the same reads
 * again, each in either process; a hit of such a read after the write
 * checks that the write bumped what it changed. The other steps are
 * random reads (most repeat one of the last 12) and writes.
 *
 * Read-your-writes across processes: before an operation in one process
 * after a write in the other, the test waits until this process has
 * applied that write's bump (`$cache.delivered(lastPublished())`), the bus
 * delay the promise allows; never a sleep.
 *
 * Replay: every failure names the seed (`PTC_SEED`; `PTC_OPS` operations),
 * the operation's index and JSON, the last 20 operations, and a file with
 * every operation run: `PTC_REPLAY=<file>` runs exactly those (a JSON
 * array of `{ p, op }`, one codec-encoded step a line, which can be cut
 * down by hand to minimize a failure).
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, type PrismaClient } from "../../generated/prisma/client";
import { decode, encode } from "../../src/codec";
import type { BumpId, CacheStats } from "../../src/index";
import { createClient, createTestDatabase, databaseKind, provider, redisUrl, sqlIdent, type TestDatabase, uniqueNamespace } from "../support/db";
import { comparable, type Delegate, encodeOp, type ModelOp, type Op, type Outcome, type RawOp, rawOp, runOp } from "../support/precision-ops";
import { mulberry32 } from "../support/prng";

const SEED = Number(process.env.PTC_SEED ?? 20261215);
const OPS = Number(process.env.PTC_OPS ?? 5000);
const REPLAY = process.env.PTC_REPLAY;
/** Share of the random steps (not the probes) that are writes. */
const WRITES = 0.3;

type Args = Record<string, unknown>;
/** One step of a run: the process (0 or 1) and the operation. */
interface Step {
  p: number;
  op: Op;
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

type Reply =
  | { type: "ready" }
  | { type: "done"; seq: number; outcome: Outcome; bump?: BumpId; hit: boolean }
  | { type: "stats"; stats: CacheStats }
  | { type: "error"; message: string };

/** A cached client in its own OS process, one command at a time. */
class Child {
  private seq = 0;
  private waiter: ((r: Reply) => void) | undefined;
  private failure: Error | undefined;
  private ready: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    let readyNow: () => void;
    this.ready = new Promise((resolve) => (readyNow = resolve));
    proc.on("message", (r: Reply) => {
      if (r.type === "ready") return readyNow();
      if (r.type === "error") this.failure = new Error(`precision child failed: ${r.message}`);
      const w = this.waiter;
      this.waiter = undefined;
      w?.(r);
    });
    proc.on("exit", (code) => {
      this.failure ??= new Error(`precision child exited (${code})`);
      this.waiter?.({ type: "error", message: this.failure.message });
    });
  }

  private ask(message: object): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = (r) => (r.type === "error" ? reject(this.failure ?? new Error(r.message)) : resolve(r));
      this.proc.send(message);
    });
  }

  whenReady = (): Promise<void> => this.ready;

  /** Runs `op` after this process has applied bump `after` of the other one. */
  async run(op: Op, after: BumpId | undefined): Promise<{ outcome: Outcome; bump: BumpId | undefined; hit: boolean }> {
    const seq = ++this.seq;
    const r = await this.ask({ type: "op", seq, op: encodeOp(op), after });
    if (r.type !== "done" || r.seq !== seq) throw new Error(`precision child: unexpected reply ${JSON.stringify(r)}`);
    return { outcome: r.outcome, bump: r.bump, hit: r.hit };
  }

  async stats(): Promise<CacheStats> {
    const r = await this.ask({ type: "stats" });
    if (r.type !== "stats") throw new Error(`precision child: unexpected reply ${JSON.stringify(r)}`);
    return r.stats;
  }

  exit(): void {
    if (this.proc.connected) this.proc.send({ type: "exit" });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The schema's shape, as the generator needs it

const TITLES = ["alpha", "beta", "gamma", "delta"];
const CONTENTS = [null, "x", "y"];
const NAMES = ["Ann", "Bo", "Cy", null];
const ROLES = ["USER", "EDITOR", "ADMIN"];
const BODIES = ["ok", "no", "hm"];
const BIOS = ["b0", "b1", "b2"];
const TAG_NAMES = ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11"];
const GROUP_NAMES = ["g0", "g1", "g2", "g3", "g4", "g5", "g6"];
const MEMBER_ROLES = ["member", "owner"];
const EMAIL_COUNT = 16;
/** `Sample` values: every scalar type, with edges (2^53 + 1, -2^62, 20 digits of Decimal, empty bytes...). */
const SAMPLE = {
  tenants: ["acme", "beta"],
  slugs: ["s0", "s1", "s2", "s3", "s4", "s5"],
  texts: ["", 'héllo "quoted" 🚀', "plain"],
  bigs: [0n, 9007199254740993n, -(2n ** 62n), 42n],
  floats: [0.1 + 0.2, -1.5e-10, 3],
  decimals: ["12345678901234.123456", "-0.000001", "1.5", "0"],
  dates: [new Date("2024-02-29T23:59:59.999Z"), new Date("1970-01-01T00:00:00.000Z"), new Date("2030-06-01T12:00:00.000Z")],
  jsons: [{ a: 1, nested: [1, "2", null, true] }, ["2024-01-02", "42", 42], "text", 7, { $type: "DateTime", big: "9007199254740993" }],
  bytes: [new Uint8Array([0, 1, 2, 127, 128, 255]), new Uint8Array([]), new Uint8Array([42])],
};

const SCALARS: Record<Delegate, string[]> = {
  user: ["id", "email", "name", "role", "managerId", "createdAt"],
  post: ["id", "title", "content", "published", "views", "authorId", "createdAt"],
  comment: ["id", "body", "postId"],
  tag: ["id", "name"],
  profile: ["id", "bio", "userId"],
  group: ["id", "name"],
  membership: ["userId", "groupId", "role", "joinedAt"],
  sample: ["id", "tenant", "slug", "text", "int", "big", "float", "decimal", "flag", "at", "role", "note"],
};
/** Fields that can be summed and averaged. */
const NUMERIC: Record<Delegate, string[]> = {
  user: ["id", "managerId"],
  post: ["id", "views", "authorId"],
  comment: ["id", "postId"],
  tag: ["id"],
  profile: ["id", "userId"],
  group: ["id"],
  membership: ["userId", "groupId"],
  sample: ["id", "int", "big", "float", "decimal"],
};
/** Fields `_min` and `_max` take (not booleans: Postgres has no max(boolean)). */
const ORDERED: Record<Delegate, string[]> = {
  user: ["id", "email", "name", "role", "managerId", "createdAt"],
  post: ["id", "title", "content", "views", "authorId", "createdAt"],
  comment: ["id", "body", "postId"],
  tag: ["id", "name"],
  profile: ["id", "bio", "userId"],
  group: ["id", "name"],
  membership: ["userId", "groupId", "role", "joinedAt"],
  sample: ["id", "tenant", "slug", "text", "int", "big", "float", "decimal", "at", "role", "note"],
};
/** Fields `groupBy` groups by. */
const GROUPABLE: Record<Delegate, string[]> = {
  user: ["role", "managerId", "name"],
  post: ["authorId", "published", "title", "views"],
  comment: ["postId", "body"],
  tag: ["name"],
  profile: ["bio", "userId"],
  group: ["name"],
  membership: ["groupId", "role", "userId"],
  sample: ["tenant", "flag", "role", "int"],
};
/** The primary key of each model: the last part of every order, so that orders are total. */
const KEY: Record<Delegate, string[]> = {
  user: ["id"],
  post: ["id"],
  comment: ["id"],
  tag: ["id"],
  profile: ["id"],
  group: ["id"],
  membership: ["userId", "groupId"],
  sample: ["id"],
};

interface Relation {
  field: string;
  target: Delegate;
  many: boolean;
}
const RELATIONS: Record<Delegate, Relation[]> = {
  user: [
    { field: "posts", target: "post", many: true },
    { field: "profile", target: "profile", many: false },
    { field: "manager", target: "user", many: false },
    { field: "reports", target: "user", many: true },
    { field: "memberships", target: "membership", many: true },
  ],
  post: [
    { field: "author", target: "user", many: false },
    { field: "comments", target: "comment", many: true },
    { field: "tags", target: "tag", many: true },
  ],
  comment: [{ field: "post", target: "post", many: false }],
  tag: [{ field: "posts", target: "post", many: true }],
  profile: [{ field: "user", target: "user", many: false }],
  group: [{ field: "memberships", target: "membership", many: true }],
  membership: [
    { field: "user", target: "user", many: false },
    { field: "group", target: "group", many: false },
  ],
  sample: [],
};

/** Row counts the writes keep each table near: fewer creates above `max`, fewer deletes below `min`. */
const SIZES: Record<Delegate, { min: number; max: number }> = {
  user: { min: 3, max: 8 },
  post: { min: 6, max: 18 },
  comment: { min: 6, max: 24 },
  tag: { min: 3, max: 7 },
  profile: { min: 2, max: 10 },
  group: { min: 2, max: 4 },
  membership: { min: 2, max: 14 },
  sample: { min: 3, max: 10 },
};

/** The models `args` of a `model` operation reach: its own, and those of the relations it names (filters, includes, nested writes). */
function reached(model: Delegate, args: unknown, out = new Set<Delegate>([model])): Set<Delegate> {
  if (args === null || typeof args !== "object") return out;
  for (const [key, v] of Object.entries(args)) {
    const rel = RELATIONS[model].find((r) => r.field === key);
    if (rel) out.add(rel.target);
    reached(rel ? rel.target : model, v, out);
  }
  return out;
}

/**
 * The kind of an operation: its model and method, and the shape of its
 * arguments: the keys at every level, with the values left out (for a
 * read, only the relations and the special keys: `_count`, `some`, `take`...).
 */
function signature(op: Op): string {
  if (op.kind === "raw") return op.strings.join("?");
  return `${op.model}.${op.method} ${shapeOf(op.model, op.args, op.kind === "write")}`;
}

const SPECIAL = new Set([
  "where",
  "include",
  "select",
  "omit",
  "_count",
  "some",
  "none",
  "every",
  "is",
  "isNot",
  "OR",
  "NOT",
  "AND",
  "cursor",
  "distinct",
  "take",
  "skip",
  "having",
  "by",
]);

function shapeOf(model: Delegate, node: unknown, scalars: boolean): string {
  if (node === null || typeof node !== "object") return "";
  if (Array.isArray(node)) return node.length > 0 ? `[${shapeOf(model, node[0], scalars)}]` : "[]";
  const parts: string[] = [];
  for (const key of Object.keys(node).sort()) {
    const v = (node as Args)[key];
    const rel = RELATIONS[model].find((r) => r.field === key);
    if (rel) parts.push(`${key}(${shapeOf(rel.target, v, scalars)})`);
    else if (scalars || SPECIAL.has(key)) parts.push(v !== null && typeof v === "object" ? `${key}{${shapeOf(model, v, scalars)}}` : key);
  }
  return parts.join(",");
}

/** The models whose tables a raw op names. */
function rawModels(op: RawOp): Set<Delegate> {
  const text = op.strings.join(" ");
  const out = new Set<Delegate>();
  for (const [table, model] of [
    ["Post", "post"],
    ["User", "user"],
    ["comments", "comment"],
    ["Profile", "profile"],
    ["Membership", "membership"],
    ["_PostToTag", "tag"],
    ["Sample", "sample"],
  ] as const)
    if (text.includes(table)) out.add(model);
  return out;
}

/** The rows that exist now, read through the uncached client after every write (a function of the operations run). */
interface Pools {
  user: number[];
  post: number[];
  comment: number[];
  tag: number[];
  profile: number[];
  group: number[];
  sample: number[];
  /** `[userId, groupId]`. */
  membership: Array<[number, number]>;
  /** The row each row refers to, by `model:id`: a user's manager, a post's author, a comment's post, a profile's user. */
  refs: Map<string, [Delegate, number]>;
  /** The rows that refer to a row, by `childModel:parentId` (the reverse of `refs`). */
  children: Map<string, number[]>;
  /** Implicit many-to-many links, `[postId, tagId]`. */
  links: Array<[number, number]>;
}

/** Every row's key, in one raw query (a Prisma read per model would cost more than the operation it follows). */
async function loadPools(db: PrismaClient): Promise<Pools> {
  const t = sqlIdent;
  const rows = await db.$queryRaw<Array<{ m: string; a: number | bigint; b: number | bigint }>>(Prisma.sql`
    SELECT 'user' AS m, ${t("id")} AS a, COALESCE(${t("managerId")}, 0) AS b FROM ${t("User")}
    UNION ALL SELECT 'post', ${t("id")}, COALESCE(${t("authorId")}, 0) FROM ${t("Post")}
    UNION ALL SELECT 'comment', ${t("id")}, ${t("postId")} FROM ${t("comments")}
    UNION ALL SELECT 'tag', ${t("id")}, 0 FROM ${t("Tag")}
    UNION ALL SELECT 'profile', ${t("id")}, ${t("userId")} FROM ${t("Profile")}
    UNION ALL SELECT 'group', ${t("id")}, 0 FROM ${t("Group")}
    UNION ALL SELECT 'membership', ${t("userId")}, ${t("groupId")} FROM ${t("Membership")}
    UNION ALL SELECT 'link', ${t("A")}, ${t("B")} FROM ${t("_PostToTag")}
    UNION ALL SELECT 'sample', ${t("id")}, 0 FROM ${t("Sample")}
    ORDER BY 1, 2, 3`);
  const pools: Pools = {
    user: [],
    post: [],
    comment: [],
    tag: [],
    profile: [],
    group: [],
    sample: [],
    membership: [],
    refs: new Map(),
    children: new Map(),
    links: [],
  };
  const refers: Partial<Record<Delegate, Delegate>> = { user: "user", post: "user", comment: "post", profile: "user" };
  for (const r of rows) {
    const m = r.m as Delegate | "link";
    const a = Number(r.a);
    const b = Number(r.b);
    if (m === "link") {
      pools.links.push([a, b]);
      continue;
    }
    if (m === "membership") pools.membership.push([a, b]);
    else pools[m].push(a);
    const target = refers[m];
    if (target && b !== 0) {
      pools.refs.set(`${m}:${a}`, [target, b]);
      const key = `${m}:${b}`;
      pools.children.set(key, [...(pools.children.get(key) ?? []), a]);
    }
  }
  return pools;
}

// ---------------------------------------------------------------------------------------------------------------
// The generator

/** Seeded random operations over the current rows. */
class Generator {
  private readonly rand: () => number;
  private n = 0;
  /** Highest id each model has had. */
  private readonly maxSeen: Record<string, number> = {};
  /** Recent reads, repeated now and then (in either process) so that cached entries meet later writes. */
  private readonly recent: Array<{ step: Step; models: Set<Delegate> }> = [];
  /** The models the last write named (its own, and those of its nested writes). */
  private written = new Set<Delegate>();
  /** While a probe's reads are made: the rows its write names, which ids are mostly taken from. */
  private focus: Map<string, Set<unknown>> | undefined;
  /** How often each kind of operation was picked ({@link leastSeen}). */
  private readonly seen = new Map<string, number>();
  /** Steps planned ahead (a probe). */
  private readonly queue: Step[] = [];
  pools!: Pools;
  private readonly mysql = provider() === "mysql";
  private readonly sqlite = provider() === "sqlite";
  private readonly foreignKeys = databaseKind() !== "mysql-rm";

  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }

  setPools(p: Pools): void {
    this.pools = p;
    for (const m of ["user", "post", "comment", "tag", "profile", "group", "sample"] as const)
      for (const id of p[m]) this.maxSeen[m] = Math.max(this.maxSeen[m] ?? 0, id);
  }

  // --- random helpers
  private chance = (p: number): boolean => this.rand() < p;
  private int = (n: number): number => Math.floor(this.rand() * n);
  private pick = <T>(xs: readonly T[]): T => xs[Math.floor(this.rand() * xs.length)]!;
  private dir = (): "asc" | "desc" => (this.chance(0.5) ? "asc" : "desc");
  private email = (): string => this.focused<string>("email") ?? `u${this.int(EMAIL_COUNT)}@x.io`;
  private tagName = (): string => this.focused<string>("tagName") ?? this.pick(TAG_NAMES);
  private groupName = (): string => this.focused<string>("groupName") ?? this.pick(GROUP_NAMES);

  /** In a probe, mostly a value its write names (an id of `key`'s model, an email, a tag's or group's name). */
  private focused<T>(key: string): T | undefined {
    const values = this.focus?.get(key);
    return values && values.size > 0 && this.chance(0.75) ? (this.pick([...values]) as T) : undefined;
  }

  /** A row of `child` that refers to `parent` (a post of a user, a comment of a post, a report of a user), else any. */
  private childOf(child: "user" | "post" | "comment", parent: number | undefined): number {
    const kids = parent === undefined ? undefined : this.pools.children.get(`${child}:${parent}`);
    return kids && kids.length > 0 && this.chance(0.75) ? this.pick(kids) : this.id(child);
  }

  /** A tag linked to post `post` (or a post linked to tag `tag`), else any. */
  private linked(side: "tag" | "post", id: number | undefined): number {
    const ids = id === undefined ? [] : this.pools.links.filter((l) => (side === "tag" ? l[0] : l[1]) === id).map((l) => (side === "tag" ? l[1] : l[0]));
    return ids.length > 0 && this.chance(0.75) ? this.pick(ids) : this.id(side);
  }
  /** Weighted choice among `[weight, make]` pairs. */
  private choose<T>(options: ReadonlyArray<readonly [number, () => T]>): T {
    const total = options.reduce((s, o) => s + o[0], 0);
    let r = this.rand() * total;
    for (const [w, make] of options) if ((r -= w) < 0) return make();
    return options[options.length - 1]![1]();
  }

  /** An id of `model`: mostly of an existing row, sometimes the next ids to be given, sometimes one that is gone. */
  id(model: Exclude<Delegate, "membership">): number {
    const focus = this.focused<number>(model);
    if (focus) return focus;
    const pool = this.pools[model];
    const max = this.maxSeen[model] ?? 0;
    const r = this.rand();
    if (pool.length > 0 && r < 0.85) return this.pick(pool);
    if (r < 0.95) return max + 1 + this.int(2);
    return 1 + this.int(Math.max(max, 1));
  }

  private membershipKey(): { userId: number; groupId: number } {
    const near = this.focus ? this.pools.membership.filter(([u, g]) => this.focus?.get("user")?.has(u) || this.focus?.get("group")?.has(g)) : [];
    const pool = near.length > 0 && this.chance(0.75) ? near : this.pools.membership;
    if (pool.length > 0 && this.chance(0.8)) {
      const [userId, groupId] = this.pick(pool);
      return { userId, groupId };
    }
    return { userId: this.id("user"), groupId: this.id("group") };
  }

  /** A value for a model's unique lookup. */
  private unique(model: Delegate): Args {
    switch (model) {
      case "user":
        return this.chance(0.75) ? { id: this.id("user") } : { email: this.email() };
      case "post":
        // Extra filters on a unique lookup are allowed: the row may exist and be filtered out.
        return this.chance(0.8) ? { id: this.id("post") } : { id: this.id("post"), published: this.chance(0.5) };
      case "comment":
        return { id: this.id("comment") };
      case "tag":
        return this.chance(0.6) ? { id: this.id("tag") } : { name: this.tagName() };
      case "profile":
        return this.chance(0.5) ? { id: this.id("profile") } : { userId: this.id("user") };
      case "group":
        return this.chance(0.6) ? { id: this.id("group") } : { name: this.groupName() };
      case "membership":
        return { userId_groupId: this.membershipKey() };
      case "sample":
        return this.chance(0.5) ? { id: this.id("sample") } : { tenant_slug: { tenant: this.pick(SAMPLE.tenants), slug: this.pick(SAMPLE.slugs) } };
    }
  }

  // --- filters

  private atoms(model: Delegate): Array<() => Args> {
    const id = (m: Exclude<Delegate, "membership">) => () => this.id(m);
    const twoOf =
      <T>(f: () => T) =>
      () => [f(), f()];
    switch (model) {
      case "user":
        return [
          () => ({ id: this.id("user") }),
          () => ({ id: { in: twoOf(id("user"))() } }),
          () => ({ id: { lt: this.id("user") } }),
          () => ({ email: this.email() }),
          () => ({ name: this.pick(NAMES) }),
          () => ({ name: { not: null } }),
          () => ({ role: this.pick(ROLES) }),
          () => ({ role: { in: [this.pick(ROLES), this.pick(ROLES)] } }),
          () => ({ managerId: this.id("user") }),
          () => ({ managerId: this.id("user") }),
          () => ({ managerId: null }),
          () => ({ posts: { some: { published: true } } }),
          () => ({ posts: { none: {} } }),
          () => ({ posts: { every: { views: { gt: 2 } } } }),
          () => ({ profile: { is: null } }),
          () => ({ profile: { isNot: null } }),
          () => ({ profile: { bio: this.pick(BIOS) } }),
          () => ({ manager: { is: { role: this.pick(ROLES) } } }),
          () => ({ memberships: { some: { groupId: this.id("group") } } }),
          () => ({ reports: { some: {} } }),
        ];
      case "post":
        return [
          () => ({ id: this.id("post") }),
          () => ({ id: { in: twoOf(id("post"))() } }),
          () => ({ id: { gt: this.id("post") } }),
          () => ({ authorId: this.id("user") }),
          () => ({ authorId: this.id("user") }),
          () => ({ authorId: this.id("user") }),
          () => ({ authorId: null }),
          () => ({ authorId: { in: twoOf(id("user"))() } }),
          () => ({ authorId: { not: this.id("user") } }),
          () => ({ authorId: { equals: this.id("user") } }),
          () => ({ authorId: { notIn: [this.id("user")] } }),
          () => ({ authorId: { not: null } }),
          () => ({ authorId: { in: [] } }),
          () => ({ published: this.chance(0.5) }),
          () => ({ views: { gt: this.int(10) } }),
          () => ({ views: { lt: this.int(10) } }),
          () => ({ views: this.int(10) }),
          () => ({ title: this.pick(TITLES) }),
          () => ({ title: { in: [this.pick(TITLES), this.pick(TITLES)] } }),
          () => ({ content: null }),
          () => ({ author: { is: { role: this.pick(ROLES) } } }),
          () => ({ author: { isNot: null } }),
          () => ({ author: { name: this.pick(NAMES) } }),
          () => ({ comments: { some: { body: this.pick(BODIES) } } }),
          () => ({ comments: { none: {} } }),
          () => ({ comments: { every: { body: this.pick(BODIES) } } }),
          () => ({ tags: { some: { name: this.tagName() } } }),
          () => ({ tags: { none: {} } }),
          () => ({ author: { posts: { some: { views: { gt: 5 } } } } }),
        ];
      case "comment":
        return [
          () => ({ id: this.id("comment") }),
          () => ({ id: { in: twoOf(id("comment"))() } }),
          () => ({ id: { gt: this.id("comment") } }),
          () => ({ postId: this.id("post") }),
          () => ({ postId: this.id("post") }),
          () => ({ postId: this.id("post") }),
          () => ({ postId: { in: twoOf(id("post"))() } }),
          () => ({ postId: { equals: this.id("post") } }),
          () => ({ postId: { gt: this.id("post") } }),
          () => ({ body: this.pick(BODIES) }),
          () => ({ body: { in: [this.pick(BODIES), this.pick(BODIES)] } }),
          () => ({ post: { is: { published: this.chance(0.5) } } }),
          () => ({ post: { authorId: this.id("user") } }),
          () => ({ post: { tags: { some: { name: this.tagName() } } } }),
        ];
      case "tag":
        return [
          () => ({ id: this.id("tag") }),
          () => ({ id: { gt: this.id("tag") } }),
          () => ({ name: this.tagName() }),
          () => ({ name: { in: [this.tagName(), this.tagName()] } }),
          () => ({ posts: { some: { authorId: this.id("user") } } }),
          () => ({ posts: { some: { published: true } } }),
          () => ({ posts: { none: {} } }),
        ];
      case "profile":
        return [
          () => ({ id: this.id("profile") }),
          () => ({ userId: this.id("user") }),
          () => ({ userId: { in: twoOf(id("user"))() } }),
          () => ({ bio: this.pick(BIOS) }),
          () => ({ user: { is: { role: this.pick(ROLES) } } }),
          () => ({ user: { email: this.email() } }),
        ];
      case "group":
        return [
          () => ({ id: this.id("group") }),
          () => ({ name: this.groupName() }),
          () => ({ memberships: { some: { userId: this.id("user") } } }),
          () => ({ memberships: { none: {} } }),
        ];
      case "membership":
        return [
          () => ({ userId: this.id("user") }),
          () => ({ userId: this.id("user") }),
          () => ({ groupId: this.id("group") }),
          () => ({ groupId: this.id("group") }),
          () => ({ userId: this.id("user"), groupId: this.id("group") }),
          () => ({ userId: { in: twoOf(id("user"))() } }),
          () => ({ role: this.pick(MEMBER_ROLES) }),
          () => ({ user: { role: this.pick(ROLES) } }),
          () => ({ group: { name: this.groupName() } }),
        ];
      case "sample":
        return [
          () => ({ id: this.id("sample") }),
          () => ({ tenant: this.pick(SAMPLE.tenants) }),
          () => ({ tenant: this.pick(SAMPLE.tenants), slug: this.pick(SAMPLE.slugs) }),
          () => ({ int: { gt: this.int(5) - 2 } }),
          () => ({ big: this.pick(SAMPLE.bigs) }),
          () => ({ big: { lt: 0n } }),
          () => ({ decimal: { gt: "0.5" } }),
          () => ({ decimal: this.pick(SAMPLE.decimals) }),
          () => ({ float: { lt: 0 } }),
          () => ({ flag: this.chance(0.5) }),
          () => ({ at: { lt: this.pick(SAMPLE.dates) } }),
          () => ({ role: this.pick(ROLES) }),
          () => ({ note: null }),
          () => ({ text: { in: [this.pick(SAMPLE.texts), this.pick(SAMPLE.texts)] } }),
        ];
    }
  }

  private atom(model: Delegate): Args {
    return this.pick(this.atoms(model))();
  }

  /**
   * In a probe: a filter on a key or foreign key by a value its write
   * names (`{ authorId: 5 }`, `{ id: { in: [7, 9] } }`), sometimes with one
   * more filter; undefined when the write names none for `model`.
   */
  private focusAtom(model: Delegate): Args | undefined {
    const keys: Array<[string, string]> = (
      [
        ["id", model],
        ["authorId", "user"],
        ["managerId", "user"],
        ["userId", "user"],
        ["postId", "post"],
        ["groupId", "group"],
        ["email", "email"],
        ["name", `${model}Name`],
      ] as Array<[string, string]>
    ).filter(([field, key]) => SCALARS[model].includes(field) && (this.focus?.get(key)?.size ?? 0) > 0);
    if (keys.length === 0) return undefined;
    const [field, key] = this.pick(keys);
    const value = this.pick([...this.focus!.get(key)!]);
    const atom: Args = this.chance(0.8) ? { [field]: value } : { [field]: { in: [value, this.pick([...this.focus!.get(key)!])] } };
    return this.chance(0.25) ? { ...this.plainAtom(model), ...atom } : atom;
  }

  /** A filter without a relation filter (mostly: five tries). */
  private plainAtom(model: Delegate): Args {
    let a = this.atom(model);
    for (let i = 0; i < 4 && RELATIONS[model].some((r) => r.field in a); i++) a = this.atom(model);
    return a;
  }

  /** A `where`: one filter, a conjunction, OR, NOT, or a mix; sometimes none. */
  where(model: Delegate): Args | undefined {
    return this.choose<Args | undefined>([
      [15, () => undefined],
      [40, () => this.atom(model)],
      [20, () => ({ ...this.atom(model), ...this.atom(model) })],
      [10, () => ({ OR: [this.atom(model), this.atom(model)] })],
      [6, () => ({ AND: [this.atom(model), this.atom(model)] })],
      [8, () => ({ NOT: this.atom(model) })],
      [7, () => ({ AND: [this.atom(model), { OR: [this.atom(model), { NOT: this.atom(model) }] }] })],
    ]);
  }

  // --- orders and shapes

  private relationOrder(model: Delegate): Args | undefined {
    const d = this.dir();
    const options: Record<Delegate, Args[]> = {
      user: [{ posts: { _count: d } }, { profile: { bio: d } }, { manager: { name: d } }],
      post: [{ author: { name: d } }, { author: { email: d } }, { comments: { _count: d } }, { tags: { _count: d } }],
      comment: [{ post: { views: d } }, { post: { title: d } }],
      tag: [{ posts: { _count: d } }],
      profile: [{ user: { email: d } }],
      group: [{ memberships: { _count: d } }],
      membership: [{ user: { email: d } }, { group: { name: d } }],
      sample: [],
    };
    return options[model].length > 0 ? this.pick(options[model]) : undefined;
  }

  /** A total order: sometimes a relation, sometimes a scalar, then the primary key. */
  orderBy(model: Delegate, relations = true): Args[] {
    const parts: Args[] = [];
    const byRelation = relations && this.chance(this.focus ? 0.04 : 0.12) ? this.relationOrder(model) : undefined;
    if (byRelation) parts.push(byRelation);
    if (this.chance(0.7)) parts.push({ [this.pick(SCALARS[model])]: this.dir() });
    for (const k of KEY[model]) if (!parts.some((p) => k in p)) parts.push({ [k]: this.dir() });
    return parts;
  }

  private countArg(model: Delegate): unknown {
    const many = RELATIONS[model].filter((r) => r.many);
    if (many.length === 0) return undefined;
    if (this.chance(0.3)) return true;
    const select: Args = {};
    for (const r of many) {
      if (this.chance(0.5)) continue;
      select[r.field] = this.chance(0.6) ? true : { where: this.atom(r.target) };
    }
    if (Object.keys(select).length === 0) select[many[0]!.field] = true;
    return { select };
  }

  /** Scalars to `omit`: sometimes the key. */
  private omit(model: Delegate): Args {
    return { [this.pick(SCALARS[model])]: true };
  }

  /** Scalars for a `select`: the key only half of the time. */
  private scalarSelect(model: Delegate): Args {
    const select: Args = {};
    for (const f of SCALARS[model]) if (this.chance(KEY[model].includes(f) ? 0.5 : 0.4)) select[f] = true;
    if (Object.keys(select).length === 0) select[this.pick(SCALARS[model])] = true;
    return select;
  }

  /** A relation to include: in a probe, mostly one to a model its write changes. */
  private relation(rels: Relation[]): Relation {
    const near = this.focus ? rels.filter((r) => this.written.has(r.target)) : [];
    return this.pick(near.length > 0 && this.chance(0.7) ? near : rels);
  }

  /** The model a probe reads: one its write changes, or one with a relation to it. */
  private probeModel(written: Delegate[]): Delegate {
    if (this.chance(0.5)) return this.pick(written);
    const related = (Object.keys(RELATIONS) as Delegate[]).filter((m) => RELATIONS[m].some((r) => this.written.has(r.target)));
    return this.pick(related.length > 0 ? related : written);
  }

  /** The arguments of an included relation at `depth` (1 or 2). */
  private relationArgs(rel: Relation, depth: number, ordered: boolean): unknown {
    const a: Args = {};
    if (rel.many) {
      if (this.chance(0.3)) a.where = this.atom(rel.target);
      if (ordered) {
        a.orderBy = this.orderBy(rel.target, false);
        if (this.chance(0.2)) a.take = 1 + this.int(3);
        if (this.chance(0.1)) a.skip = 1;
        if (this.chance(0.05)) a.distinct = [this.pick(SCALARS[rel.target])];
        if (this.chance(0.05)) a.cursor = this.cursor(rel.target);
      }
    }
    Object.assign(a, depth < 2 ? this.shape(rel.target, depth, ordered, 0.4) : this.chance(0.3) ? { select: this.scalarSelect(rel.target) } : {});
    return Object.keys(a).length > 0 ? a : true;
  }

  /** `include` or `select` of a level at `depth` (0: the top), with relations down to depth 2. */
  shape(model: Delegate, depth: number, ordered: boolean, none = 0.3): Args {
    const r = this.rand();
    if (r < none) return this.chance(0.2) ? { omit: this.omit(model) } : {};
    const rels = RELATIONS[model];
    if (rels.length === 0) return this.chance(0.5) ? { select: this.scalarSelect(model) } : { omit: this.omit(model) };
    if (r < none + (1 - none) * 0.6) {
      const include: Args = {};
      for (let i = 0, n = 1 + this.int(2); i < n; i++) {
        const rel = this.relation(rels);
        include[rel.field] = this.relationArgs(rel, depth + 1, ordered);
      }
      if (this.chance(0.25)) {
        const c = this.countArg(model);
        if (c !== undefined) include._count = c;
      }
      return this.chance(0.15) ? { include, omit: this.omit(model) } : { include };
    }
    const select = this.scalarSelect(model);
    if (this.chance(0.6)) {
      const rel = this.relation(rels);
      select[rel.field] = this.relationArgs(rel, depth + 1, ordered);
    }
    if (this.chance(0.25)) {
      const c = this.countArg(model);
      if (c !== undefined) select._count = c;
    }
    return { select };
  }

  // --- reads

  private cursor(model: Delegate): Args {
    return model === "membership" ? { userId_groupId: this.membershipKey() } : { id: this.id(model) };
  }

  private newRead(): ModelOp {
    return this.leastSeen(3, () => this.anyRead());
  }

  private anyRead(): ModelOp {
    const written = [...this.written];
    const model =
      this.focus && written.length > 0 && this.chance(0.8)
        ? this.probeModel(written)
        : this.choose<Delegate>([
            [3, () => "post"],
            [2, () => "user"],
            [2, () => "comment"],
            [1, () => "tag"],
            [1, () => "profile"],
            [0.6, () => "group"],
            [1, () => "membership"],
            [0.6, () => "sample"],
          ]);
    const ordered = this.chance(0.85);
    const read = (method: string, args: Args, unordered = false): ModelOp => ({ kind: "read", model, method, args, ...(unordered ? { unordered } : {}) });
    const where = () => {
      const w = this.focus && this.chance(0.7) ? (this.focusAtom(model) ?? this.plainAtom(model)) : this.where(model);
      return w === undefined ? {} : { where: w };
    };
    return this.choose<ModelOp>([
      [
        40,
        () => {
          if (!ordered) return read("findMany", { ...where(), ...this.shape(model, 0, false) }, true);
          const args: Args = { ...where(), orderBy: this.orderBy(model) };
          if (this.chance(0.3)) args.take = this.chance(0.15) ? -(1 + this.int(3)) : 1 + this.int(4);
          if (this.chance(0.15)) args.skip = this.int(3);
          if (this.chance(0.1)) args.cursor = this.cursor(model);
          if (this.chance(0.1)) args.distinct = this.chance(0.7) ? [this.pick(SCALARS[model])] : [this.pick(SCALARS[model]), this.pick(SCALARS[model])];
          return read("findMany", { ...args, ...this.shape(model, 0, true) });
        },
      ],
      [
        12,
        () => {
          const args: Args = { ...where(), orderBy: this.orderBy(model) };
          if (this.chance(0.15)) args.skip = this.int(3);
          return read(this.chance(0.2) ? "findFirstOrThrow" : "findFirst", { ...args, ...this.shape(model, 0, true) });
        },
      ],
      [18, () => read(this.chance(0.2) ? "findUniqueOrThrow" : "findUnique", { where: this.unique(model), ...this.shape(model, 0, ordered) }, !ordered)],
      [
        10,
        () => {
          const args: Args = where();
          if (this.chance(0.3)) args.select = { _all: true, [this.pick(SCALARS[model])]: true };
          if (this.chance(0.15)) {
            args.orderBy = this.orderBy(model, false);
            if (this.chance(0.7)) args.take = 1 + this.int(4);
            else args.skip = 1 + this.int(2);
          }
          return read("count", args);
        },
      ],
      [
        8,
        () => {
          const args: Args = where();
          const num = NUMERIC[model];
          if (this.chance(0.7)) args._count = this.chance(0.5) ? { _all: true } : { [this.pick(SCALARS[model])]: true };
          if (this.chance(0.5)) args._sum = { [this.pick(num)]: true };
          if (this.chance(0.3)) args._avg = { [this.pick(num)]: true };
          if (this.chance(0.4)) args._min = { [this.pick(ORDERED[model])]: true };
          if (this.chance(0.4)) args._max = { [this.pick(ORDERED[model])]: true };
          if (Object.keys(args).every((k) => k === "where")) args._count = { _all: true };
          if (this.chance(0.2)) {
            args.orderBy = this.orderBy(model, false);
            args.take = 1 + this.int(4);
          }
          return read("aggregate", args);
        },
      ],
      [
        8,
        () => {
          const by = [this.pick(GROUPABLE[model])];
          if (this.chance(0.3)) {
            const second = this.pick(GROUPABLE[model]);
            if (!by.includes(second)) by.push(second);
          }
          const args: Args = { by, ...where() };
          const num = NUMERIC[model];
          if (this.chance(0.7)) args._count = { _all: true };
          if (this.chance(0.5)) args._sum = { [this.pick(num)]: true };
          if (this.chance(0.3)) args._max = { [this.pick(ORDERED[model])]: true };
          if (this.chance(0.2)) args.having = { [this.pick(num)]: { _max: { gt: this.int(20) } } };
          if (!ordered) return read("groupBy", args, true);
          args.orderBy = by.map((f) => ({ [f]: this.dir() }));
          if (this.chance(0.2)) args.take = 1 + this.int(3);
          if (this.chance(0.1)) args.skip = 1;
          return read("groupBy", args);
        },
      ],
    ]);
  }

  /** The next read: a new one, or (65 % of the time) one of the last 12, in either process. */
  read(): Step {
    if (this.recent.length > 0 && this.chance(0.65)) {
      // Mostly one that reads what the last write changed.
      const near = this.recent.filter((r) => [...r.models].some((m) => this.written.has(m)));
      return { p: this.int(2), op: this.pick(near.length > 0 && this.chance(0.7) ? near : this.recent).step.op };
    }
    const step = { p: this.int(2), op: this.newRead() };
    this.remember(step);
    return step;
  }

  // --- writes

  private next(): number {
    return ++this.n;
  }

  private userData(): Args {
    return { email: this.email(), name: this.pick(NAMES), role: this.pick(ROLES) };
  }

  private postData(): Args {
    return { title: this.pick(TITLES), content: this.pick(CONTENTS), published: this.chance(0.5), views: this.int(10) };
  }

  /** A post to create nested in another write, with nested writes of its own. */
  private nestedPost(): Args {
    const data = this.postData();
    if (this.chance(0.25))
      data.tags = this.chance(0.7)
        ? { connect: [{ id: this.id("tag") }] }
        : { connectOrCreate: [{ where: { name: this.tagName() }, create: { name: this.tagName() } }] };
    if (this.chance(0.25)) data.comments = { create: [{ body: this.pick(BODIES) }] };
    return data;
  }

  /** Sometimes a `select` (without the id or the keys) or an `include` on a write. */
  private writeShape(model: Delegate): Args {
    const r = this.rand();
    if (r < 0.8) return {};
    if (r < 0.9 || RELATIONS[model].length === 0) return { select: { [this.pick(SCALARS[model].filter((f) => !KEY[model].includes(f)))]: true } };
    return { include: { [this.pick(RELATIONS[model]).field]: true } };
  }

  private write(model: Delegate, method: string, args: Args): ModelOp {
    const shaped = method.startsWith("create") || method.startsWith("update") || method === "upsert" || method === "delete";
    const manyForm = method.endsWith("Many") || method.endsWith("AndReturn");
    return { kind: "write", model, method, args: shaped && !manyForm ? { ...args, ...this.writeShape(model) } : args };
  }

  /** A `Sample` row: every scalar type. */
  private sampleData(): Args {
    return {
      tenant: this.pick(SAMPLE.tenants),
      slug: this.pick(SAMPLE.slugs),
      text: this.pick(SAMPLE.texts),
      int: this.int(5) - 2,
      big: this.pick(SAMPLE.bigs),
      float: this.pick(SAMPLE.floats),
      decimal: this.pick(SAMPLE.decimals),
      flag: this.chance(0.5),
      at: this.pick(SAMPLE.dates),
      json: this.pick(SAMPLE.jsons),
      bytes: this.pick(SAMPLE.bytes),
      role: this.pick(ROLES),
      note: this.chance(0.5) ? null : "n",
    };
  }

  /** An update of a `Sample`: one or two fields, with increments of BigInt and Decimal. */
  private sampleUpdate(): Args {
    const data: Args = {};
    for (let i = 0, n = 1 + this.int(2); i < n; i++) {
      this.choose<void>([
        [1, () => void (data.int = this.chance(0.5) ? this.int(5) - 2 : { increment: 1 })],
        [1, () => void (data.big = this.chance(0.5) ? this.pick(SAMPLE.bigs) : { increment: 1n })],
        [1, () => void (data.decimal = this.chance(0.5) ? this.pick(SAMPLE.decimals) : { increment: "0.25" })],
        [1, () => void (data.float = this.pick(SAMPLE.floats))],
        [1, () => void (data.json = this.pick(SAMPLE.jsons))],
        [1, () => void (data.bytes = this.pick(SAMPLE.bytes))],
        [1, () => void (data.at = this.pick(SAMPLE.dates))],
        [1, () => void (data.note = this.chance(0.5) ? null : "m")],
        [1, () => void (data.flag = this.chance(0.5))],
        [0.5, () => void (data.slug = this.pick(SAMPLE.slugs))],
      ]);
    }
    return data;
  }

  /** An update's data for a user: scalars, the manager (as a key or a relation), and nested writes. */
  private userUpdate(user: number | undefined): Args {
    const data: Args = {};
    const unchecked = this.chance(0.5);
    for (let i = 0, n = this.chance(0.7) ? 1 : 2; i < n; i++) {
      this.choose<void>([
        [1, () => void (data.name = this.pick(NAMES))],
        [1, () => void (data.role = this.pick(ROLES))],
        [1, () => void (data.email = this.email())],
        [
          1.5,
          () =>
            void (unchecked
              ? (data.managerId = this.chance(0.8) ? this.id("user") : null)
              : (data.manager = this.chance(0.7) ? { connect: { id: this.id("user") } } : { disconnect: true })),
        ],
        [1.5, () => void (unchecked ? (data.id = 100_000 + this.next()) : (data.name = this.pick(NAMES)))],
        [
          5,
          () =>
            void (data.posts = this.choose<Args>([
              [1, () => ({ connect: [{ id: this.id("post") }] })],
              [1, () => ({ disconnect: [{ id: this.childOf("post", user) }] })],
              [1, () => ({ set: this.chance(0.3) ? [] : [{ id: this.childOf("post", user) }, { id: this.id("post") }] })],
              [1, () => ({ create: [this.nestedPost()] })],
              [1, () => ({ createMany: { data: [this.postData(), this.postData()] } })],
              [1, () => ({ update: [{ where: { id: this.childOf("post", user) }, data: { views: this.int(10), published: this.chance(0.5) } }] })],
              [1, () => ({ updateMany: [{ where: { published: false }, data: { views: this.int(10) } }] })],
              [1, () => ({ deleteMany: [{ views: { lt: 3 } }] })],
              [1, () => ({ delete: [{ id: this.childOf("post", user) }] })],
              [1, () => ({ upsert: [{ where: { id: this.childOf("post", user) }, create: this.postData(), update: { title: this.pick(TITLES) } }] })],
              [1, () => ({ connectOrCreate: [{ where: { id: this.id("post") }, create: this.postData() }] })],
            ])),
        ],
        [
          2.5,
          () =>
            void (data.profile = this.choose<Args>([
              [1, () => ({ upsert: { create: { bio: this.pick(BIOS) }, update: { bio: this.pick(BIOS) } } })],
              [1, () => ({ create: { bio: this.pick(BIOS) } })],
              [1, () => ({ update: { bio: this.pick(BIOS) } })],
              [1, () => ({ delete: true })],
              [1, () => ({ connect: { id: this.id("profile") } })],
            ])),
        ],
        [
          1.5,
          () =>
            void (data.memberships = this.choose<Args>([
              [1, () => ({ create: [{ groupId: this.id("group"), role: this.pick(MEMBER_ROLES) }] })],
              [1, () => ({ deleteMany: [{ role: this.pick(MEMBER_ROLES) }] })],
              [1, () => ({ updateMany: [{ where: { groupId: this.id("group") }, data: { role: this.pick(MEMBER_ROLES) } }] })],
            ])),
        ],
        [
          1.5,
          () =>
            void (data.reports = this.choose<Args>([
              [1, () => ({ connect: [{ id: this.id("user") }] })],
              [1, () => ({ disconnect: [{ id: this.childOf("user", user) }] })],
              [1, () => ({ set: this.chance(0.5) ? [] : [{ id: this.childOf("user", user) }] })],
            ])),
        ],
      ]);
    }
    return data;
  }

  /** An update's data for a post: scalars, the author (as a key or a relation), tags and comments. */
  private postUpdate(post: number | undefined): Args {
    const data: Args = {};
    const unchecked = this.chance(0.5);
    for (let i = 0, n = this.chance(0.7) ? 1 : 2; i < n; i++) {
      this.choose<void>([
        [1, () => void (data.title = this.pick(TITLES))],
        [0.5, () => void (data.content = this.pick(CONTENTS))],
        [1, () => void (data.published = this.chance(0.5))],
        [1, () => void (data.views = this.chance(0.5) ? this.int(10) : { increment: 1 })],
        [
          5,
          () =>
            void (unchecked
              ? (data.authorId = this.chance(0.85) ? this.id("user") : null)
              : (data.author = this.choose<Args>([
                  [2, () => ({ connect: { id: this.id("user") } })],
                  [1, () => ({ connect: { email: this.email() } })],
                  [1, () => ({ disconnect: true })],
                  [1, () => ({ update: { name: this.pick(NAMES) } })],
                  [0.5, () => ({ update: { where: { role: this.pick(ROLES) }, data: { name: this.pick(NAMES) } } })],
                  [0.5, () => ({ create: this.userData() })],
                  [0.5, () => ({ upsert: { create: this.userData(), update: { role: this.pick(ROLES) } } })],
                  [0.5, () => ({ connectOrCreate: { where: { email: this.email() }, create: this.userData() } })],
                ]))),
        ],
        [1.5, () => void (unchecked ? (data.id = 100_000 + this.next()) : (data.title = this.pick(TITLES)))],
        [
          4,
          () =>
            void (data.tags = this.choose<Args>([
              [1.5, () => ({ connect: [{ id: this.id("tag") }] })],
              [1.5, () => ({ disconnect: [{ id: this.linked("tag", post) }] })],
              [1, () => ({ set: this.chance(0.3) ? [] : [{ id: this.linked("tag", post) }, { id: this.id("tag") }] })],
              [1, () => ({ create: [{ name: this.tagName() }] })],
              [1, () => ({ connectOrCreate: [{ where: { name: this.tagName() }, create: { name: this.tagName() } }] })],
              [0.3, () => ({ deleteMany: [{ name: this.tagName() }] })],
              [0.5, () => ({ update: [{ where: { id: this.linked("tag", post) }, data: { name: this.tagName() } }] })],
            ])),
        ],
        [
          4,
          () =>
            void (data.comments = this.choose<Args>([
              [1, () => ({ create: [{ body: this.pick(BODIES) }] })],
              [1, () => ({ createMany: { data: [{ body: this.pick(BODIES) }, { body: this.pick(BODIES) }] } })],
              [1, () => ({ deleteMany: [{ body: this.pick(BODIES) }] })],
              [1, () => ({ delete: [{ id: this.childOf("comment", post) }] })],
              [1, () => ({ update: [{ where: { id: this.childOf("comment", post) }, data: { body: this.pick(BODIES) } }] })],
              [1, () => ({ updateMany: [{ where: {}, data: { body: this.pick(BODIES) } }] })],
              [1, () => ({ connect: [{ id: this.id("comment") }] })],
              [
                1,
                () => ({
                  upsert: [{ where: { id: this.childOf("comment", post) }, create: { body: this.pick(BODIES) }, update: { body: this.pick(BODIES) } }],
                }),
              ],
            ])),
        ],
      ]);
    }
    return data;
  }

  /** The writes of each model, as [weight, make] of three kinds: grow, shrink, change. */
  private writes(model: Delegate): { grow: Array<[number, () => ModelOp]>; shrink: Array<[number, () => ModelOp]>; change: Array<[number, () => ModelOp]> } {
    const w = (method: string, args: () => Args) => () => this.write(model, method, args());
    const andReturn = !this.mysql;
    const dup = () => (!this.sqlite && this.chance(0.5) ? { skipDuplicates: true } : {});
    switch (model) {
      case "user":
        return {
          grow: [
            [
              4,
              w("create", () => {
                const data = this.userData();
                if (this.chance(0.3)) data.managerId = this.id("user");
                else if (this.chance(0.15)) data.manager = { connect: { id: this.id("user") } };
                if (this.chance(0.3)) data.profile = { create: { bio: this.pick(BIOS) } };
                if (this.chance(0.15)) data.posts = { create: [this.nestedPost()] };
                if (this.chance(0.15)) data.memberships = { create: [{ groupId: this.id("group"), role: this.pick(MEMBER_ROLES) }] };
                return { data };
              }),
            ],
            [1, w("createMany", () => ({ data: [this.userData(), { ...this.userData(), managerId: this.id("user") }], ...dup() }))],
            ...(andReturn ? [[1, w("createManyAndReturn", () => ({ data: [this.userData(), this.userData()] }))] as [number, () => ModelOp]] : []),
            [
              2,
              w("upsert", () => {
                const id = this.id("user");
                return {
                  where: this.chance(0.5) ? { email: this.email() } : { id },
                  create: { ...this.userData(), ...(this.chance(0.3) ? { profile: { create: { bio: this.pick(BIOS) } } } : {}) },
                  update: this.userUpdate(id),
                };
              }),
            ],
          ],
          shrink: [
            [3, w("delete", () => ({ where: this.chance(0.8) ? { id: this.id("user") } : { email: this.email() } }))],
            [1, w("deleteMany", () => ({ where: this.chance(0.5) ? { email: this.email() } : { role: this.pick(ROLES), posts: { none: {} } } }))],
          ],
          change: [
            [
              8,
              w("update", () => {
                const id = this.id("user");
                return { where: this.chance(0.8) ? { id } : { email: this.email() }, data: this.userUpdate(id) };
              }),
            ],
            [
              1,
              w("updateMany", () => ({
                where: { role: this.pick(ROLES) },
                data: this.chance(0.7) ? { name: this.pick(NAMES) } : { managerId: this.id("user") },
              })),
            ],
            ...(andReturn
              ? [
                  [1, w("updateManyAndReturn", () => ({ where: this.atom("user"), data: { name: this.pick(NAMES), role: this.pick(ROLES) } }))] as [
                    number,
                    () => ModelOp,
                  ],
                ]
              : []),
          ],
        };
      case "post":
        return {
          grow: [
            [
              5,
              w("create", () => {
                const data = this.nestedPost();
                this.choose<void>([
                  [4, () => void (data.authorId = this.id("user"))],
                  [2, () => void (data.author = { connect: this.chance(0.7) ? { id: this.id("user") } : { email: this.email() } })],
                  [1, () => void (data.author = { create: this.userData() })],
                  [1, () => void (data.author = { connectOrCreate: { where: { email: this.email() }, create: this.userData() } })],
                  [1, () => undefined],
                ]);
                return { data };
              }),
            ],
            [
              1,
              w("createMany", () => ({
                data: [
                  { ...this.postData(), authorId: this.id("user") },
                  { ...this.postData(), authorId: this.id("user") },
                ],
              })),
            ],
            ...(andReturn
              ? [
                  [1, w("createManyAndReturn", () => ({ data: [{ ...this.postData(), authorId: this.id("user") }, this.postData()] }))] as [
                    number,
                    () => ModelOp,
                  ],
                ]
              : []),
            [
              1,
              w("upsert", () => {
                const id = this.id("post");
                return { where: { id }, create: { ...this.postData(), authorId: this.id("user") }, update: this.postUpdate(id) };
              }),
            ],
          ],
          shrink: [
            [3, w("delete", () => ({ where: { id: this.id("post") } }))],
            [1, w("deleteMany", () => ({ where: this.chance(0.5) ? { authorId: this.id("user") } : { views: { gt: 7 }, published: this.chance(0.5) } }))],
          ],
          change: [
            [
              10,
              w("update", () => {
                const id = this.id("post");
                return { where: { id }, data: this.postUpdate(id) };
              }),
            ],
            [
              2,
              w("updateMany", () => ({
                where: this.atom("post"),
                data: this.choose<Args>([
                  [2, () => ({ published: this.chance(0.5) })],
                  [2, () => ({ views: { increment: 1 } })],
                  [2, () => ({ authorId: this.chance(0.8) ? this.id("user") : null })],
                  [1, () => ({ title: this.pick(TITLES) })],
                ]),
              })),
            ],
            ...(andReturn
              ? [
                  [
                    2,
                    w("updateManyAndReturn", () => ({
                      where: this.atom("post"),
                      data: this.chance(0.5) ? { authorId: this.id("user") } : { views: this.int(10), title: this.pick(TITLES) },
                    })),
                  ] as [number, () => ModelOp],
                ]
              : []),
          ],
        };
      case "comment":
        return {
          grow: [
            [
              5,
              w("create", () =>
                this.choose<Args>([
                  [4, () => ({ data: { body: this.pick(BODIES), postId: this.id("post") } })],
                  [2, () => ({ data: { body: this.pick(BODIES), post: { connect: { id: this.id("post") } } } })],
                  [1, () => ({ data: { body: this.pick(BODIES), post: { create: { ...this.postData(), author: { connect: { id: this.id("user") } } } } } })],
                ]),
              ),
            ],
            [
              1,
              w("createMany", () => ({
                data: [
                  { body: this.pick(BODIES), postId: this.id("post") },
                  { body: this.pick(BODIES), postId: this.id("post") },
                ],
              })),
            ],
            ...(andReturn
              ? [[1, w("createManyAndReturn", () => ({ data: [{ body: this.pick(BODIES), postId: this.id("post") }] }))] as [number, () => ModelOp]]
              : []),
            [
              1,
              w("upsert", () => ({
                where: { id: this.id("comment") },
                create: { body: this.pick(BODIES), postId: this.id("post") },
                update: { body: this.pick(BODIES) },
              })),
            ],
          ],
          shrink: [
            [3, w("delete", () => ({ where: { id: this.id("comment") } }))],
            [1, w("deleteMany", () => ({ where: this.chance(0.5) ? { postId: this.id("post") } : { body: this.pick(BODIES) } }))],
          ],
          change: [
            [
              6,
              w("update", () => ({
                where: { id: this.id("comment") },
                data: this.choose<Args>([
                  [3, () => ({ body: this.pick(BODIES) })],
                  [3, () => ({ postId: this.id("post") })],
                  [2, () => ({ post: { connect: { id: this.id("post") } } })],
                  [1, () => ({ post: { update: { views: this.int(10) } } })],
                ]),
              })),
            ],
            [2, w("updateMany", () => ({ where: this.atom("comment"), data: this.chance(0.5) ? { body: this.pick(BODIES) } : { postId: this.id("post") } }))],
            ...(andReturn
              ? [[1, w("updateManyAndReturn", () => ({ where: this.atom("comment"), data: { postId: this.id("post") } }))] as [number, () => ModelOp]]
              : []),
          ],
        };
      case "tag":
        return {
          grow: [
            [3, w("create", () => ({ data: { name: this.tagName(), ...(this.chance(0.5) ? { posts: { connect: [{ id: this.id("post") }] } } : {}) } }))],
            [1, w("createMany", () => ({ data: [{ name: this.tagName() }, { name: this.tagName() }], ...dup() }))],
            [
              1,
              w("upsert", () => ({
                where: { name: this.tagName() },
                create: { name: this.tagName() },
                update: { posts: { connect: [{ id: this.id("post") }] } },
              })),
            ],
          ],
          shrink: [
            [2, w("delete", () => ({ where: this.chance(0.5) ? { id: this.id("tag") } : { name: this.tagName() } }))],
            [1, w("deleteMany", () => ({ where: { name: { in: [this.tagName(), this.tagName()] } } }))],
          ],
          change: [
            [
              4,
              w("update", () => {
                const id = this.id("tag");
                return {
                  where: this.chance(0.6) ? { id } : { name: this.tagName() },
                  data: this.choose<Args>([
                    [1, () => ({ name: this.tagName() })],
                    [2, () => ({ posts: { connect: [{ id: this.id("post") }] } })],
                    [1, () => ({ posts: { disconnect: [{ id: this.linked("post", id) }] } })],
                    [1, () => ({ posts: { set: [{ id: this.linked("post", id) }] } })],
                  ]),
                };
              }),
            ],
            [1, w("updateMany", () => ({ where: { id: this.id("tag") }, data: { name: this.tagName() } }))],
          ],
        };
      case "profile":
        return {
          grow: [
            [
              3,
              w("create", () =>
                this.choose<Args>([
                  [3, () => ({ data: { bio: this.pick(BIOS), userId: this.id("user") } })],
                  [1, () => ({ data: { bio: this.pick(BIOS), user: { connect: { id: this.id("user") } } } })],
                  [1, () => ({ data: { bio: this.pick(BIOS), user: { create: this.userData() } } })],
                ]),
              ),
            ],
            [
              2,
              w("upsert", () => ({
                where: { userId: this.id("user") },
                create: { bio: this.pick(BIOS), userId: this.id("user") },
                update: { bio: this.pick(BIOS) },
              })),
            ],
          ],
          shrink: [
            [2, w("delete", () => ({ where: this.chance(0.5) ? { id: this.id("profile") } : { userId: this.id("user") } }))],
            [1, w("deleteMany", () => ({ where: { bio: this.pick(BIOS) } }))],
          ],
          change: [
            [
              4,
              w("update", () => ({
                where: this.chance(0.5) ? { id: this.id("profile") } : { userId: this.id("user") },
                data: this.choose<Args>([
                  [3, () => ({ bio: this.pick(BIOS) })],
                  [2, () => ({ userId: this.id("user") })],
                  [1, () => ({ user: { connect: { id: this.id("user") } } })],
                  [1, () => ({ user: { update: { name: this.pick(NAMES) } } })],
                ]),
              })),
            ],
            [1, w("updateMany", () => ({ where: this.atom("profile"), data: { bio: this.pick(BIOS) } }))],
          ],
        };
      case "group":
        return {
          grow: [
            [
              2,
              w("create", () => ({
                data: {
                  name: this.groupName(),
                  ...(this.chance(0.6) ? { memberships: { create: [{ userId: this.id("user"), role: this.pick(MEMBER_ROLES) }] } } : {}),
                },
              })),
            ],
            [1, w("upsert", () => ({ where: { name: this.groupName() }, create: { name: this.groupName() }, update: { name: this.groupName() } }))],
          ],
          shrink: [
            [2, w("delete", () => ({ where: { id: this.id("group") } }))],
            [0.5, w("deleteMany", () => ({ where: { memberships: { none: {} } } }))],
          ],
          change: [
            [
              3,
              w("update", () => ({
                where: { id: this.id("group") },
                data: this.choose<Args>([
                  [1, () => ({ name: this.groupName() })],
                  [2, () => ({ memberships: { create: [{ userId: this.id("user") }] } })],
                  [1, () => ({ memberships: { deleteMany: [{ userId: this.id("user") }] } })],
                  [1, () => ({ memberships: { updateMany: [{ where: {}, data: { role: this.pick(MEMBER_ROLES) } }] } })],
                ]),
              })),
            ],
          ],
        };
      case "membership":
        return {
          grow: [
            [
              4,
              w("create", () =>
                this.chance(0.7)
                  ? { data: { userId: this.id("user"), groupId: this.id("group"), role: this.pick(MEMBER_ROLES) } }
                  : { data: { user: { connect: { id: this.id("user") } }, group: { connect: { id: this.id("group") } } } },
              ),
            ],
            [1, w("createMany", () => ({ data: [{ userId: this.id("user"), groupId: this.id("group") }], ...dup() }))],
            ...(andReturn
              ? [[1, w("createManyAndReturn", () => ({ data: [{ userId: this.id("user"), groupId: this.id("group") }] }))] as [number, () => ModelOp]]
              : []),
            [
              1,
              w("upsert", () => {
                const key = this.membershipKey();
                return { where: { userId_groupId: key }, create: { ...key, role: this.pick(MEMBER_ROLES) }, update: { role: this.pick(MEMBER_ROLES) } };
              }),
            ],
          ],
          shrink: [
            [3, w("delete", () => ({ where: { userId_groupId: this.membershipKey() } }))],
            [1, w("deleteMany", () => ({ where: this.atom("membership") }))],
          ],
          change: [
            [
              4,
              w("update", () => ({
                where: { userId_groupId: this.membershipKey() },
                data: this.choose<Args>([
                  [3, () => ({ role: this.pick(MEMBER_ROLES) })],
                  [1, () => ({ groupId: this.id("group") })],
                  [1, () => ({ userId: this.id("user") })],
                ]),
              })),
            ],
            [1, w("updateMany", () => ({ where: this.atom("membership"), data: { role: this.pick(MEMBER_ROLES) } }))],
            ...(andReturn
              ? [[1, w("updateManyAndReturn", () => ({ where: this.atom("membership"), data: { role: this.pick(MEMBER_ROLES) } }))] as [number, () => ModelOp]]
              : []),
          ],
        };
      case "sample":
        return {
          grow: [
            [3, w("create", () => ({ data: this.sampleData() }))],
            [1, w("createMany", () => ({ data: [this.sampleData(), this.sampleData()], ...dup() }))],
            ...(andReturn ? [[1, w("createManyAndReturn", () => ({ data: [this.sampleData()] }))] as [number, () => ModelOp]] : []),
            [
              1,
              w("upsert", () => {
                const create = this.sampleData();
                return { where: { tenant_slug: { tenant: create.tenant, slug: create.slug } }, create, update: this.sampleUpdate() };
              }),
            ],
          ],
          shrink: [
            [2, w("delete", () => ({ where: this.unique("sample") }))],
            [1, w("deleteMany", () => ({ where: this.atom("sample") }))],
          ],
          change: [
            [4, w("update", () => ({ where: this.unique("sample"), data: this.sampleUpdate() }))],
            [1, w("updateMany", () => ({ where: this.atom("sample"), data: this.sampleUpdate() }))],
            ...(andReturn ? [[1, w("updateManyAndReturn", () => ({ where: this.atom("sample"), data: this.sampleUpdate() }))] as [number, () => ModelOp]] : []),
          ],
        };
    }
  }

  /** A `$executeRaw` UPDATE: scalars, foreign keys, a mapped table, the join table. */
  private raw(): Op {
    const t = sqlIdent;
    return this.choose<Op>([
      [2, () => rawOp(Prisma.sql`UPDATE ${t("Post")} SET ${t("views")} = ${t("views")} + 1 WHERE ${t("authorId")} = ${this.id("user")}`)],
      [2, () => rawOp(Prisma.sql`UPDATE ${t("Post")} SET ${t("authorId")} = ${this.id("user")} WHERE ${t("id")} = ${this.id("post")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("Post")} SET ${t("title")} = ${this.pick(TITLES)} WHERE ${t("views")} < ${this.int(10)}`)],
      [2, () => rawOp(Prisma.sql`UPDATE ${t("User")} SET ${t("name")} = ${this.pick(NAMES.filter((n) => n !== null))} WHERE ${t("id")} = ${this.id("user")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("User")} SET ${t("managerId")} = ${this.id("user")} WHERE ${t("role")} = ${this.pick(ROLES)}`)],
      [2, () => rawOp(Prisma.sql`UPDATE ${t("comments")} SET ${t("postId")} = ${this.id("post")} WHERE ${t("id")} = ${this.id("comment")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("comments")} SET ${t("body")} = ${this.pick(BODIES)} WHERE ${t("postId")} = ${this.id("post")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("Profile")} SET ${t("bio")} = ${this.pick(BIOS)} WHERE ${t("userId")} = ${this.id("user")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("Membership")} SET ${t("role")} = ${this.pick(MEMBER_ROLES)} WHERE ${t("groupId")} = ${this.id("group")}`)],
      [1, () => rawOp(Prisma.sql`UPDATE ${t("_PostToTag")} SET ${t("B")} = ${this.id("tag")} WHERE ${t("A")} = ${this.id("post")}`)],
      [0.5, () => rawOp(Prisma.sql`UPDATE ${t("Sample")} SET ${t("int")} = ${t("int")} + 1 WHERE ${t("tenant")} = ${this.pick(SAMPLE.tenants)}`)],
      // A key the database's foreign keys cascade to (none with relationMode = "prisma": raw SQL gets no referential actions there).
      ...(this.foreignKeys
        ? ([
            [0.5, () => rawOp(Prisma.sql`UPDATE ${t("Post")} SET ${t("id")} = ${100_000 + this.next()} WHERE ${t("id")} = ${this.id("post")}`)],
            [0.5, () => rawOp(Prisma.sql`UPDATE ${t("User")} SET ${t("id")} = ${100_000 + this.next()} WHERE ${t("id")} = ${this.id("user")}`)],
          ] as Array<[number, () => Op]>)
        : []),
    ]);
  }

  /**
   * Of `n` candidates, the one whose kind ({@link signature}) was picked
   * least so far: rare kinds of reads and writes (a nested `set`, a
   * `_count` in an include) come up about as often as common ones.
   */
  private leastSeen<T extends Op>(n: number, make: () => T): T {
    let best: T | undefined;
    let bestSig = "";
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const op = make();
      const sig = signature(op);
      const count = this.seen.get(sig) ?? 0;
      if (count < bestCount) [best, bestSig, bestCount] = [op, sig, count];
    }
    this.seen.set(bestSig, bestCount + 1);
    return best!;
  }

  private newWrite(): Op {
    return this.leastSeen(4, () => this.anyWrite());
  }

  private anyWrite(): Op {
    if (this.chance(0.06)) return this.raw();
    const model = this.choose<Delegate>([
      [3, () => "post"],
      [2, () => "user"],
      [2, () => "comment"],
      [1, () => "tag"],
      [1, () => "profile"],
      [0.5, () => "group"],
      [1, () => "membership"],
      [0.5, () => "sample"],
    ]);
    const count = model === "membership" ? this.pools.membership.length : this.pools[model].length;
    const { min, max } = SIZES[model];
    const kinds = this.writes(model);
    const [grow, shrink] = count > max ? [1, 5] : count < min ? [6, 0.5] : [3, 2];
    const kind = this.choose<Array<[number, () => ModelOp]>>([
      [grow, () => kinds.grow],
      [shrink, () => kinds.shrink],
      [6, () => kinds.change],
    ]);
    return this.choose(kind);
  }

  /** The next step: a write (about {@link WRITES} of them) or a read. */
  step(): Step {
    if (this.queue.length === 0) this.plan();
    return this.queue.shift()!;
  }

  /**
   * The next steps: a random read or write, or a probe: one or two new
   * reads of the rows a write names (and the rows they refer to), in
   * random processes, the write, then the same reads again.
   */
  private plan(): void {
    if (this.chance(0.6)) {
      const write = this.newWrite();
      this.written = write.kind === "raw" ? rawModels(write) : reached(write.model, write.args);
      this.focus = write.kind === "raw" ? undefined : this.rowsOf(write);
      const reads = Array.from({ length: 1 + this.int(2) }, () => this.newRead());
      this.focus = undefined;
      for (const op of reads) this.remember({ p: this.int(2), op });
      for (const op of reads) this.queue.push({ p: this.int(2), op });
      this.queue.push({ p: this.int(2), op: write });
      for (const op of reads) this.queue.push({ p: this.int(2), op });
      return;
    }
    if (this.chance(WRITES)) {
      const op = this.newWrite();
      this.written = op.kind === "raw" ? rawModels(op) : reached(op.model, op.args);
      this.queue.push({ p: this.int(2), op });
      return;
    }
    this.queue.push(this.read());
  }

  /** The rows a write names, by model: ids, keys and foreign keys at any depth, and the rows those refer to now. */
  private rowsOf(op: ModelOp): Map<string, Set<unknown>> {
    const out = new Map<string, Set<unknown>>();
    const put = (key: string, v: unknown) => {
      if (!out.has(key)) out.set(key, new Set());
      out.get(key)!.add(v);
    };
    const add = (m: Delegate, id: unknown) => {
      if (typeof id !== "number") return;
      put(m, id);
      const ref = this.pools.refs.get(`${m}:${id}`);
      if (ref) put(ref[0], ref[1]);
    };
    const FK: Record<string, Delegate> = { authorId: "user", managerId: "user", userId: "user", postId: "post", groupId: "group" };
    const walk = (model: Delegate, node: unknown): void => {
      if (node === null || typeof node !== "object") return;
      if (Array.isArray(node)) {
        for (const n of node) walk(model, n);
        return;
      }
      for (const [key, v] of Object.entries(node)) {
        const rel = RELATIONS[model].find((r) => r.field === key);
        if (rel) walk(rel.target, v);
        else if (key === "id" && model !== "membership") add(model, v);
        else if (key === "email" && typeof v === "string") put("email", v);
        else if (key === "name" && typeof v === "string" && (model === "tag" || model === "group")) put(`${model}Name`, v);
        else if (key in FK && typeof v === "number") add(FK[key]!, v);
        else if (key === "userId_groupId") walk(model, v);
        else walk(model, v);
      }
    };
    walk(op.model, op.args);
    return out;
  }

  private remember(step: Step): void {
    const op = step.op as ModelOp;
    this.recent.push({ step, models: reached(op.model, op.args) });
    if (this.recent.length > 12) this.recent.shift();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The seed data

async function seedData(db: PrismaClient): Promise<void> {
  const users: number[] = [];
  for (let i = 0; i < 6; i++) {
    const u = await db.user.create({
      data: {
        email: `u${i}@x.io`,
        name: NAMES[i % NAMES.length],
        role: ROLES[i % ROLES.length] as "USER",
        managerId: i > 0 ? users[0] : null,
        ...(i % 2 === 0 ? { profile: { create: { bio: BIOS[i % BIOS.length]! } } } : {}),
      },
    });
    users.push(u.id);
  }
  const tags: number[] = [];
  for (let i = 0; i < 4; i++) tags.push((await db.tag.create({ data: { name: TAG_NAMES[i]! } })).id);
  for (let i = 0; i < 12; i++) {
    await db.post.create({
      data: {
        title: TITLES[i % TITLES.length]!,
        content: CONTENTS[i % CONTENTS.length],
        published: i % 3 !== 0,
        views: i % 10,
        authorId: i % 5 === 4 ? null : users[i % users.length],
        tags: { connect: tags.filter((_, k) => (i + k) % 3 === 0).map((id) => ({ id })) },
        comments: { create: Array.from({ length: i % 3 }, (_, k) => ({ body: BODIES[(i + k) % BODIES.length]! })) },
      },
    });
  }
  for (let i = 0; i < 4; i++) {
    await db.sample.create({
      data: {
        tenant: SAMPLE.tenants[i % 2]!,
        slug: SAMPLE.slugs[i]!,
        text: SAMPLE.texts[i % SAMPLE.texts.length]!,
        int: i - 1,
        big: SAMPLE.bigs[i]!,
        float: SAMPLE.floats[i % SAMPLE.floats.length]!,
        decimal: SAMPLE.decimals[i]!,
        flag: i % 2 === 0,
        at: SAMPLE.dates[i % SAMPLE.dates.length]!,
        json: SAMPLE.jsons[i]! as Prisma.InputJsonValue,
        bytes: SAMPLE.bytes[i % SAMPLE.bytes.length]!,
        role: ROLES[i % ROLES.length] as "USER",
        note: i % 2 === 0 ? null : "n",
      },
    });
  }
  for (let g = 0; g < 3; g++) {
    await db.group.create({
      data: {
        name: GROUP_NAMES[g]!,
        memberships: { create: users.filter((_, k) => (k + g) % 2 === 0).map((userId, k) => ({ userId, role: MEMBER_ROLES[k % 2]! })) },
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The test

let db: TestDatabase;
let plain: PrismaClient;
const children: Child[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  plain = createClient(db.url).prisma;
  await seedData(plain);
});

afterAll(async () => {
  for (const c of children) c.exit();
  await Promise.all(children.map((c) => new Promise<void>((resolve) => (c.proc.exitCode !== null ? resolve() : c.proc.once("exit", () => resolve())))));
  await plain?.$disconnect();
  await db?.drop();
});

function spawnChild(namespace: string): Child {
  const script = fileURLToPath(new URL("../support/precision-child.ts", import.meta.url));
  const config = { databaseUrl: db.url, redisUrl: redisUrl(), namespace };
  const child = new Child(fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  children.push(child);
  return child;
}

/** One line of the history: the op index, the process, the op, and what came of it. */
function describeStep(i: number, s: Step, outcome: Outcome | undefined): string {
  const what =
    outcome === undefined
      ? ""
      : outcome.ok
        ? ` -> ${outcome.value.length > 200 ? `${outcome.value.slice(0, 200)}...` : outcome.value}`
        : ` -> ${outcome.error.name} ${outcome.error.code ?? ""} ${outcome.error.message}`;
  return `#${i} p${s.p} ${show(s.op)}${what}`;
}

/** JSON for people: BigInts as `123n`, bytes as `bytes[0,1]` (Dates and Decimals as their JSON). */
function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `bytes[${[...x].join(",")}]` : x));
}

/** A replay file: one codec-encoded step a line (types kept), in a JSON array, so that lines can be cut by hand. */
const replayFile = (steps: Step[]): string => `[\n${steps.map((s) => encode(s)).join(",\n")}\n]\n`;

describe("randomized precise dependencies over two processes", () => {
  it(`every cached read equals the database's (seed ${SEED}, ${REPLAY ? `replay of ${REPLAY}` : `${OPS} operations`})`, async () => {
    const started = performance.now();
    const namespace = uniqueNamespace();
    const procs = [spawnChild(namespace), spawnChild(namespace)] as const;
    await Promise.all(procs.map((p) => p.whenReady()));

    const gen = new Generator(SEED);
    gen.setPools(await loadPools(plain));
    const replay = REPLAY ? (decode(readFileSync(REPLAY, "utf8")) as Step[]) : undefined;
    const total = replay ? replay.length : OPS;

    /** The other process's last bump each process must have applied before its next operation. */
    const pending: Array<BumpId | undefined> = [undefined, undefined];
    const steps: Step[] = [];
    const history: string[] = [];
    let reads = 0;
    /** Cache hits of a read last run before the latest write: each one checks that write's precision. */
    let survived = 0;
    let lastWrite = -1;
    const lastRun = new Map<string, number>();
    let writes = 0;
    const writeErrors = new Map<string, number>();
    const readErrors = new Map<string, number>();
    const tally = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

    const fail = (i: number, message: string): never => {
      const file = path.join(tmpdir(), `ptc-precision-${SEED}-${process.pid}-${Date.now()}.json`);
      writeFileSync(file, replayFile(steps));
      throw new Error(
        `${message}\n${replay ? `replay of ${REPLAY}` : `seed ${SEED} (PTC_SEED=${SEED})`}, op #${i} of ${total}: ${show(steps[i]!.op)} in process ${steps[i]!.p}` +
          `\nreplay every op run: PTC_REPLAY=${file}\nlast 20 ops:\n${history.slice(-20).join("\n")}`,
      );
    };

    for (let i = 0; i < total; i++) {
      const step = replay ? replay[i]! : gen.step();
      steps.push(step);
      const child = procs[step.p]!;
      const after = pending[step.p];
      pending[step.p] = undefined;
      // A read runs through the uncached client at the same time: nothing writes meanwhile, so both see one state.
      const [{ outcome, bump, hit }, want] = await Promise.all([child.run(step.op, after), step.op.kind === "read" ? runOp(plain, step.op) : undefined]);
      history.push(describeStep(i, step, outcome));
      if (step.op.kind === "read") {
        reads++;
        const key = encodeOp(step.op);
        if (hit && (lastRun.get(key) ?? i) < lastWrite) survived++;
        lastRun.set(key, i);
        const unordered = step.op.unordered === true;
        const got = comparable(outcome, unordered);
        const truth = comparable(want!, unordered);
        if (!outcome.ok) tally(readErrors, `${step.op.model}.${step.op.method} ${outcome.error.name} ${outcome.error.code ?? ""}`);
        if (got !== truth) {
          // Only a key-order difference is not a stale read: compare as values.
          let same = false;
          try {
            expect(JSON.parse(got)).toEqual(JSON.parse(truth));
            same = outcome.ok && want!.ok;
          } catch {}
          if (!same) fail(i, `stale read through the cache of process ${step.p}\ncached:   ${got}\ndatabase: ${truth}`);
        }
      } else {
        writes++;
        lastWrite = i;
        if (!outcome.ok)
          tally(
            writeErrors,
            `${outcome.error.name} ${outcome.error.code ?? ""}${outcome.error.name.includes("Validation") ? ` ${describeStep(i, step, outcome)}` : ""}`,
          );
        if (bump) pending[1 - step.p] = bump;
        // A write the database refused changed no row (each is one statement, or a transaction Prisma rolled back).
        if (outcome.ok) gen.setPools(await loadPools(plain));
      }
    }

    const stats = await Promise.all(procs.map((p) => p.stats()));
    const hits = stats.reduce((s, x) => s + x.hits.l1 + x.hits.l2, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `[precision-random] ${provider()}: ${total} ops (${reads} reads, ${writes} writes) in ${seconds} s; hits ${hits} ` +
        `(L1 ${stats.map((s) => s.hits.l1).join("+")}, L2 ${stats.map((s) => s.hits.l2).join("+")}), misses ${stats.map((s) => s.misses).join("+")}, ` +
        `refused fills ${stats.map((s) => s.fillsRefused).join("+")}; ${survived} hits of a read last run before the latest write\n  write errors: ${JSON.stringify(Object.fromEntries(writeErrors))}` +
        `\n  read errors: ${JSON.stringify(Object.fromEntries(readErrors))}`,
    );
    // The cache did real work (not asked of a replay, which may be a few ops): a good share of the reads were answered from it.
    if (!replay) expect(hits).toBeGreaterThan(reads / 10);
    expect(stats.reduce((s, x) => s + x.bypasses, 0)).toBe(0);
    // The generator makes valid operations: Prisma rejected none of them as invalid.
    expect([...readErrors.keys(), ...writeErrors.keys()].filter((k) => k.includes("Validation"))).toEqual([]);
  }, 240_000);
});
