/**
 * Table-driven tests of the pure dependency logic on the project schema: what
 * each read shape depends on, and what each write kind bumps. Dependency ids
 * (src/deps/ids.ts): `m:Model` (any row of the model), `r:Model:[…]` (one
 * row by primary key), `b:Model` (rows a write does not name), `n:Model` (a
 * row may have appeared or changed a unique field), `s:Model` (the model's
 * row set), `f:Model.field` (an update set that field), `v:Model.fields:value`
 * (rows holding that foreign-key value) and `v:Model.fields` (a value not
 * known), `t:tag`, and `*` (the whole namespace).
 *
 * A read's recorded dependencies are those known before it runs plus those
 * found in its result (`lateDeps(value)`), as the fill records them. Each
 * write case also names reads it changes (its bumps must meet their recorded
 * dependencies) and reads it cannot change (its bumps must miss them). No
 * database: the runtime is built from the generated client's data model and
 * schema text.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { resolveOptions } from "../../src/config";
import type { ReadOperation } from "../../src/engine/planner";
import { recordedDeps } from "../../src/engine/request";
import { inlineSchema, runtimeDataModel } from "../../src/prisma/internals";
import { CacheRuntime } from "../../src/runtime";

const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
const runtimeWith = (options: Record<string, unknown>) =>
  new CacheRuntime(resolveOptions({ ttl: 60, ...options }), runtimeDataModel(client)!, inlineSchema(client));
/** Tags on Group only: a tagged model's reads and writes all share its tag, so the precise cases use untagged models. */
const runtime = runtimeWith({ models: { Group: { tags: ["groups"] } } });
const sorted = (xs: readonly string[]) => [...new Set(xs)].sort();

/** A cached read and the value it holds. */
type Query = [model: string, operation: ReadOperation, args: Record<string, unknown>, result: unknown];

/** The read's request, as the planner completes its plan on a miss. */
const requestOf = (r: CacheRuntime, [model, operation, args]: Query, cache?: unknown) => r.planner.complete(r.planner.plan({ model, operation, args, cache })!);
/** What the fill records with the entry of `query` holding its result. */
const recorded = (query: Query, r = runtime): readonly string[] => recordedDeps(requestOf(r, query), query[3]);
const label = ([model, operation, args, result]: Query) => `${model}.${operation}(${JSON.stringify(args)}) holding ${JSON.stringify(result)}`;

interface ReadCase {
  why: string;
  read: Query;
  /** The per-query `cache` option. */
  cache?: unknown;
  /** Known before the query. */
  deps: string[];
  /** Found in the result (`lateDeps(result)`). */
  late: string[];
}

const READS: ReadCase[] = [
  {
    why: "a list depends on the model's row set, and on each row it returned",
    read: ["User", "findMany", {}, [{ id: 1 }, { id: 2 }]],
    deps: ["b:User", "s:User"],
    late: ["r:User:[#1]", "r:User:[#2]"],
  },
  {
    why: "an include (user.posts) is a selection of posts by authorId: v:Post.authorId:#<id> per parent row, and each post",
    read: [
      "User",
      "findMany",
      { include: { posts: true } },
      [
        { id: 1, posts: [{ id: 3, authorId: 1 }] },
        { id: 2, posts: [] },
      ],
    ],
    deps: ["b:User", "s:User", "b:Post", "v:Post.authorId"],
    late: ["r:User:[#1]", "r:User:[#2]", "r:Post:[#3]", "v:Post.authorId:#1", "v:Post.authorId:#2"],
  },
  {
    why: "includes at any depth record each level's rows and parent keys",
    read: [
      "User",
      "findMany",
      { include: { posts: { include: { comments: true } } } },
      [{ id: 1, posts: [{ id: 3, authorId: 1, comments: [{ id: 8, postId: 3 }] }] }],
    ],
    deps: ["b:User", "s:User", "b:Post", "v:Post.authorId", "b:Comment", "v:Comment.postId"],
    late: ["r:User:[#1]", "v:Post.authorId:#1", "r:Post:[#3]", "v:Comment.postId:#3", "r:Comment:[#8]"],
  },
  {
    why: "a nested relation select without ids: the query selects each level's ids too, and records its rows",
    // The result as the keyed query returns it (the ids are taken out before the read returns).
    read: ["User", "findMany", { select: { posts: { select: { comments: true } } } }, [{ id: 1, posts: [{ id: 3, comments: [{ id: 8, postId: 3 }] }] }]],
    deps: ["b:User", "s:User", "b:Post", "v:Post.authorId", "b:Comment", "v:Comment.postId"],
    late: ["r:User:[#1]", "v:Post.authorId:#1", "r:Post:[#3]", "v:Comment.postId:#3", "r:Comment:[#8]"],
  },
  {
    why: "select without the id field: the query selects the id too, and records the rows",
    read: [
      "User",
      "findMany",
      { select: { email: true } },
      [
        { id: 1, email: "a" },
        { id: 2, email: "b" },
      ],
    ],
    deps: ["b:User", "s:User"],
    late: ["r:User:[#1]", "r:User:[#2]"],
  },
  {
    why: "a relation filter depends on m: of the models it reaches, and on the foreign key its model holds, not on its own model",
    read: ["Post", "findMany", { where: { author: { is: { name: "a" } } } }, [{ id: 1 }]],
    deps: ["b:Post", "s:Post", "f:Post.authorId", "m:User"],
    late: ["r:Post:[#1]"],
  },
  {
    why: "a relation filter two relations deep reaches every model on its path",
    read: ["Comment", "count", { where: { post: { is: { author: { is: { name: "a" } } } } } }, 3],
    deps: ["b:Comment", "s:Comment", "f:Comment.postId", "m:Post", "m:User"],
    late: [],
  },
  {
    why: "an m-n relation filter in a count depends on the join table's m:_PostToTag and the related model",
    read: ["Post", "count", { where: { tags: { some: { name: "x" } } } }, 2],
    deps: ["b:Post", "s:Post", "m:Tag", "m:_PostToTag"],
    late: [],
  },
  {
    why: "an m-n relation filter in a list depends on the join table's m:_PostToTag and the related model",
    read: ["Tag", "findMany", { where: { posts: { none: {} } } }, [{ id: 2 }]],
    deps: ["b:Tag", "s:Tag", "m:Post", "m:_PostToTag"],
    late: ["r:Tag:[#2]"],
  },
  {
    why: "a relation orderBy depends on m: of the related model and the foreign key",
    read: ["Post", "findMany", { orderBy: { author: { name: "asc" } } }, [{ id: 1 }]],
    deps: ["b:Post", "s:Post", "f:Post.authorId", "m:User"],
    late: ["r:Post:[#1]"],
  },
  {
    why: "a relation _count depends on the counted key's field (a count holds no rows) and its value per parent row",
    read: ["User", "findMany", { include: { _count: { select: { posts: true } } } }, [{ id: 1, _count: { posts: 2 } }]],
    deps: ["b:User", "s:User", "b:Post", "f:Post.authorId", "v:Post.authorId"],
    late: ["r:User:[#1]", "v:Post.authorId:#1"],
  },
  {
    why: "_count: true counts every to-many relation, an m-n one by the join table's value",
    read: ["Post", "findUnique", { where: { id: 5 }, include: { _count: true } }, { id: 5, _count: { comments: 0, tags: 1 } }],
    deps: ["b:Post", "r:Post:[#5]", "b:Comment", "f:Comment.postId", "v:Comment.postId", "b:Tag", "v:_PostToTag.Post"],
    late: ["v:Comment.postId:#5", "v:_PostToTag.Post:#5"],
  },
  {
    why: "the model's tags, on every read of it",
    read: ["Group", "count", {}, 4],
    deps: ["b:Group", "s:Group", "t:groups"],
    late: [],
  },
  {
    why: "a query's own tags",
    read: ["User", "findMany", {}, []],
    cache: { tags: ["home"] },
    deps: ["b:User", "s:User", "t:home"],
    late: [],
  },
  {
    why: "an aggregate depends on the fields it reads and the row set",
    read: ["Post", "aggregate", { _sum: { views: true } }, { _sum: { views: 10 } }],
    deps: ["b:Post", "s:Post", "f:Post.views"],
    late: [],
  },
  {
    why: "findUnique by id: its row, and bulk writes of the model",
    read: ["User", "findUnique", { where: { id: 1 } }, { id: 1 }],
    deps: ["b:User", "r:User:[#1]"],
    late: [],
  },
  {
    why: "findUnique by id that found nothing: the same row (a create of it bumps it)",
    read: ["User", "findUnique", { where: { id: 1 } }, null],
    deps: ["b:User", "r:User:[#1]"],
    late: [],
  },
  {
    why: "findUnique by a compound primary key",
    read: ["Membership", "findUnique", { where: { userId_groupId: { userId: 1, groupId: 2 } } }, { userId: 1, groupId: 2 }],
    deps: ["b:Membership", "r:Membership:[#1,#2]"],
    late: [],
  },
  {
    why: "findUnique by another unique key: the key's field, and the row found, added after the query",
    read: ["User", "findUnique", { where: { email: "a" } }, { id: 4, email: "a" }],
    deps: ["b:User", "f:User.email"],
    late: ["r:User:[#4]"],
  },
  {
    why: "findUnique by another unique key that found nothing: a row may appear",
    read: ["User", "findUnique", { where: { email: "a" } }, null],
    deps: ["b:User", "f:User.email"],
    late: ["n:User"],
  },
  {
    why: "findUnique by a unique foreign key: its value, and a row that may appear",
    read: ["Profile", "findUnique", { where: { userId: 1 } }, null],
    deps: ["b:Profile", "v:Profile.userId:#1", "v:Profile.userId"],
    late: ["n:Profile"],
  },
  {
    why: "findUnique with an include: the row, and the related rows by the parent's key",
    read: ["User", "findUnique", { where: { id: 1 }, include: { profile: true } }, { id: 1, profile: { id: 7, userId: 1 } }],
    deps: ["b:User", "r:User:[#1]", "b:Profile", "v:Profile.userId"],
    late: ["r:Profile:[#7]", "v:Profile.userId:#1"],
  },
  {
    why: "findUnique by id with a relation filter in its where: the row, and m: of the models the filter reaches",
    read: ["Post", "findUnique", { where: { id: 1, author: { is: { name: "a" } } } }, null],
    deps: ["b:Post", "r:Post:[#1]", "m:User"],
    late: [],
  },
  {
    why: "findUnique by id with a relation select but not the id: the related model, though the id is in the where",
    read: ["User", "findUnique", { where: { id: 1 }, select: { posts: true } }, { posts: [{ id: 3, authorId: 1 }] }],
    deps: ["b:User", "r:User:[#1]", "b:Post", "v:Post.authorId"],
    // Coarser than needed: the parent's key (1) is known from the where, so v:Post.authorId:#1 would do.
    late: ["m:Post", "r:Post:[#3]"],
  },
  {
    why: "an m-n include records the join table's value per parent row",
    read: ["Post", "findUnique", { where: { id: 1 }, include: { tags: true } }, { id: 1, tags: [{ id: 2 }] }],
    deps: ["b:Post", "r:Post:[#1]", "b:Tag", "v:_PostToTag.Post"],
    late: ["r:Tag:[#2]", "v:_PostToTag.Post:#1"],
  },
  {
    why: "a to-one include of the key's target records the related row, or n: for a key that points at no row",
    read: [
      "Post",
      "findMany",
      { include: { author: true } },
      [
        { id: 1, authorId: 3, author: null },
        { id: 2, authorId: null, author: null },
        { id: 4, authorId: 1, author: { id: 1 } },
      ],
    ],
    deps: ["b:Post", "s:Post", "b:User"],
    late: ["r:Post:[#1]", "r:Post:[#2]", "r:Post:[#4]", "r:User:[#1]", "n:User"],
  },
  {
    why: "groupBy depends on its by fields and the row set",
    read: ["Post", "groupBy", { by: ["published"], _count: true }, [{ published: true, _count: 2 }]],
    deps: ["b:Post", "s:Post", "f:Post.published"],
    late: [],
  },
  {
    why: "a list by a foreign-key value depends on that value and the unknown-value token, not on s:Post",
    read: ["Post", "findMany", { where: { authorId: 5 } }, [{ id: 1, authorId: 5 }]],
    deps: ["b:Post", "v:Post.authorId:#5", "v:Post.authorId"],
    late: ["r:Post:[#1]"],
  },
  {
    why: "a list by foreign-key values in a list depends on each value",
    read: ["Post", "findMany", { where: { authorId: { in: [5, 6] } } }, []],
    deps: ["b:Post", "v:Post.authorId:#5", "v:Post.authorId:#6", "v:Post.authorId"],
    late: [],
  },
  {
    why: "a list by two foreign-key values depends on both",
    read: ["Membership", "findMany", { where: { userId: 1, groupId: 2 } }, []],
    deps: ["b:Membership", "v:Membership.userId:#1", "v:Membership.userId", "v:Membership.groupId:#2", "v:Membership.groupId"],
    late: [],
  },
  {
    why: "a count by a foreign-key value also depends on f:Post.authorId (a count holds no rows)",
    read: ["Post", "count", { where: { authorId: 5 } }, 2],
    deps: ["b:Post", "f:Post.authorId", "v:Post.authorId:#5", "v:Post.authorId"],
    late: [],
  },
  {
    why: "a list by a foreign-key value that skips rows also depends on its field (a skipped row is not recorded)",
    read: ["Post", "findMany", { where: { authorId: 5 }, skip: 1 }, [{ id: 1, authorId: 5 }]],
    deps: ["b:Post", "f:Post.authorId", "v:Post.authorId:#5", "v:Post.authorId"],
    late: ["r:Post:[#1]"],
  },
  {
    why: "an equality under OR is no conjunction: the field and the row set",
    read: ["Post", "findMany", { where: { OR: [{ authorId: 5 }, { authorId: 6 }] } }, []],
    deps: ["b:Post", "s:Post", "f:Post.authorId"],
    late: [],
  },
  {
    why: "a list by other fields depends on the fields of its where and orderBy, and the row set",
    read: ["Post", "findMany", { where: { published: true }, orderBy: { id: "asc" } }, [{ id: 1 }]],
    deps: ["b:Post", "s:Post", "f:Post.published", "f:Post.id"],
    late: ["r:Post:[#1]"],
  },
];

interface WriteCase {
  why: string;
  write: [model: string, operation: string, args: Record<string, unknown>, result: unknown];
  bumps: string[];
  /** Reads whose result the write changes: the bumps must meet what each recorded. */
  changes: Query[];
  /** Reads whose result the write cannot change: the bumps must miss what each recorded. */
  leaves: Query[];
}

const WRITES: WriteCase[] = [
  {
    why: "update by id: the row and the fields it sets",
    write: ["User", "update", { where: { id: 1 }, data: { name: "x" } }, { id: 1 }],
    bumps: ["m:User", "r:User:[#1]", "f:User.name"],
    changes: [
      ["User", "findUnique", { where: { id: 1 } }, { id: 1, name: "a" }],
      ["User", "findMany", {}, [{ id: 1 }, { id: 2 }]],
      ["User", "findMany", { where: { name: "x" } }, []],
    ],
    leaves: [
      ["User", "findUnique", { where: { id: 2 } }, { id: 2 }],
      ["User", "findMany", { where: { role: "ADMIN" } }, [{ id: 2 }]],
    ],
  },
  {
    why: "an update of title leaves a list by published, ordered by id, alone unless the row is in its result",
    write: ["Post", "update", { where: { id: 1 }, data: { title: "x" } }, { id: 1 }],
    bumps: ["m:Post", "r:Post:[#1]", "f:Post.title"],
    changes: [
      ["Post", "findUnique", { where: { id: 1 } }, { id: 1 }],
      ["Post", "findMany", { where: { published: true }, orderBy: { id: "asc" } }, [{ id: 1 }, { id: 2 }]],
      ["Post", "findMany", { where: { title: "x" } }, []],
    ],
    leaves: [
      ["Post", "findMany", { where: { published: true }, orderBy: { id: "asc" } }, [{ id: 2 }, { id: 3 }]],
      ["Post", "count", { where: { published: true } }, 2],
    ],
  },
  {
    why: "the model's tags",
    write: ["Group", "update", { where: { id: 1 }, data: { name: "g" } }, { id: 1 }],
    bumps: ["m:Group", "t:groups", "r:Group:[#1]", "f:Group.name", "n:Group"],
    changes: [["Group", "count", {}, 3]],
    leaves: [["User", "findMany", {}, [{ id: 1 }]]],
  },
  {
    why: "a move of a post to another author: its row, its key's field, and the value it takes",
    write: ["Post", "update", { where: { id: 1 }, data: { authorId: 2 } }, { id: 1, authorId: 2 }],
    bumps: ["m:Post", "r:Post:[#1]", "f:Post.authorId", "v:Post.authorId:#2"],
    changes: [
      ["User", "findUnique", { where: { id: 1 }, include: { posts: true } }, { id: 1, posts: [{ id: 1, authorId: 1 }] }],
      ["User", "findUnique", { where: { id: 2 }, include: { posts: true } }, { id: 2, posts: [] }],
      ["Post", "count", { where: { authorId: 1 } }, 1],
      ["User", "findMany", { include: { _count: { select: { posts: true } } } }, [{ id: 1, _count: { posts: 1 } }]],
    ],
    leaves: [["Post", "findMany", { where: { authorId: 3 } }, [{ id: 7, authorId: 3 }]]],
  },
  {
    why: "delete: its row, and the models its referential actions change (Cascade, SetNull, self-relation)",
    write: ["User", "delete", { where: { id: 1 } }, { id: 1 }],
    bumps: [
      "m:User",
      "r:User:[#1]",
      "s:User",
      "b:User",
      "n:User",
      "v:User.managerId",
      "m:Profile",
      "b:Profile",
      "n:Profile",
      "s:Profile",
      "m:Post",
      "b:Post",
      "n:Post",
      "s:Post",
      "m:_PostToTag",
      "v:_PostToTag.Post",
      "v:_PostToTag.Tag",
      "m:Membership",
      "b:Membership",
      "n:Membership",
      "s:Membership",
    ],
    changes: [
      ["User", "findUnique", { where: { id: 1 } }, { id: 1 }],
      ["User", "findMany", { where: { managerId: 1 } }, [{ id: 2, managerId: 1 }]],
      ["Profile", "findUnique", { where: { userId: 1 } }, { id: 7, userId: 1 }],
      ["Post", "findUnique", { where: { id: 3 } }, { id: 3, authorId: 1 }],
      ["Membership", "count", { where: { userId: 1 } }, 2],
    ],
    leaves: [
      ["Tag", "findUnique", { where: { id: 2 } }, { id: 2 }],
      ["Comment", "findUnique", { where: { id: 8 } }, { id: 8, postId: 3 }],
    ],
  },
  {
    why: "delete of a row returned: its foreign-key values, its m-n links, and its cascades",
    write: ["Post", "delete", { where: { id: 1 } }, { id: 1, authorId: 5 }],
    bumps: [
      "m:Post",
      "r:Post:[#1]",
      "s:Post",
      "v:Post.authorId:#5",
      "m:_PostToTag",
      "v:_PostToTag.Post:#1",
      "v:_PostToTag.Tag",
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
    ],
    changes: [
      ["Post", "count", { where: { authorId: 5 } }, 1],
      ["Post", "findMany", {}, []],
      ["Tag", "findUnique", { where: { id: 2 }, include: { posts: true } }, { id: 2, posts: [{ id: 1 }] }],
      ["Comment", "findMany", { where: { postId: 1 } }, [{ id: 8, postId: 1 }]],
    ],
    leaves: [
      ["Post", "findMany", { where: { authorId: 6 } }, []],
      ["Tag", "findUnique", { where: { id: 2 } }, { id: 2 }],
    ],
  },
  {
    why: "delete of one side of an m-n relation: its links go, the other side's rows stay",
    write: ["Tag", "delete", { where: { id: 2 } }, { id: 2, name: "x" }],
    bumps: ["m:Tag", "r:Tag:[#2]", "s:Tag", "m:_PostToTag", "v:_PostToTag.Post", "v:_PostToTag.Tag:#2"],
    changes: [
      ["Post", "findUnique", { where: { id: 1 }, include: { tags: true } }, { id: 1, tags: [{ id: 2 }] }],
      ["Tag", "findUnique", { where: { name: "x" } }, { id: 2, name: "x" }],
    ],
    leaves: [["Post", "findUnique", { where: { id: 1 } }, { id: 1 }]],
  },
  {
    why: "create: the new row, and nested creates by the new row's key",
    write: ["User", "create", { data: { email: "a", profile: { create: { bio: "b" } } } }, { id: 5 }],
    bumps: [
      "m:User",
      "n:User",
      "s:User",
      "r:User:[#5]",
      "v:User.managerId",
      "m:Profile",
      "b:Profile",
      "n:Profile",
      "s:Profile",
      // Coarser than needed: the nested profile's key (5) is known, so v:Profile.userId (any value) is not needed.
      "v:Profile.userId",
      "v:Profile.userId:#5",
    ],
    changes: [
      ["User", "findUnique", { where: { id: 5 } }, null],
      ["User", "findUnique", { where: { email: "a" } }, null],
      ["User", "findMany", {}, []],
      ["Profile", "findUnique", { where: { userId: 5 } }, null],
    ],
    leaves: [["User", "findUnique", { where: { id: 1 } }, { id: 1 }]],
  },
  {
    why: "create of a post by author 7 bumps v:Post.authorId:#7, and so leaves lists by author 5 alone",
    write: ["Post", "create", { data: { title: "t", authorId: 7 } }, { id: 11, title: "t", authorId: 7 }],
    bumps: ["m:Post", "n:Post", "s:Post", "r:Post:[#11]", "v:Post.authorId:#7"],
    changes: [
      ["Post", "findMany", { where: { authorId: 7 } }, []],
      ["Post", "findUnique", { where: { id: 11 } }, null],
      ["Post", "findMany", {}, []],
    ],
    leaves: [
      ["Post", "findMany", { where: { authorId: 5 } }, [{ id: 1, authorId: 5 }]],
      ["Post", "count", { where: { authorId: 5 } }, 1],
      ["User", "findUnique", { where: { id: 5 }, include: { posts: true } }, { id: 5, posts: [{ id: 1, authorId: 5 }] }],
    ],
  },
  {
    why: "create of a comment connected to post 5: the comment (model Comment, table comments), its key value, nothing of Post",
    write: ["Comment", "create", { data: { body: "b", post: { connect: { id: 5 } } } }, { id: 9, postId: 5, body: "b" }],
    bumps: ["m:Comment", "n:Comment", "s:Comment", "r:Comment:[#9]", "v:Comment.postId:#5"],
    changes: [
      ["Post", "findUnique", { where: { id: 5 }, include: { comments: true } }, { id: 5, comments: [] }],
      ["Post", "findUnique", { where: { id: 5 }, include: { _count: true } }, { id: 5, _count: { comments: 0, tags: 0 } }],
      ["Comment", "count", { where: { postId: 5 } }, 0],
    ],
    leaves: [
      ["Post", "findUnique", { where: { id: 5 } }, { id: 5 }],
      ["Post", "findMany", {}, [{ id: 5 }]],
      ["Comment", "findMany", { where: { postId: 6 } }, []],
    ],
  },
  {
    why: "a nested create in an update: the created rows, not the parent row",
    write: ["Post", "update", { where: { id: 1 }, data: { comments: { create: { body: "x" } } } }, { id: 1 }],
    bumps: [
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
      // Coarser than needed: the parent's key (1) is known, so v:Comment.postId (any value) is not needed.
      "v:Comment.postId",
      "v:Comment.postId:#1",
    ],
    changes: [
      ["Post", "findUnique", { where: { id: 1 }, include: { comments: true } }, { id: 1, comments: [] }],
      ["Comment", "count", { where: { postId: 1 } }, 0],
    ],
    leaves: [
      ["Post", "findUnique", { where: { id: 1 } }, { id: 1 }],
      ["Post", "findMany", {}, [{ id: 1 }]],
    ],
  },
  {
    why: "an implicit m-n connect: the join table's values, not the connected rows nor their lists",
    write: ["Post", "update", { where: { id: 1 }, data: { tags: { connect: { id: 2 } } } }, { id: 1 }],
    // The post's row is unchanged: not even m:Post (what reads m:Post through the relation reads m:_PostToTag too).
    bumps: ["m:_PostToTag", "v:_PostToTag.Post:#1", "v:_PostToTag.Tag:#2"],
    changes: [
      ["Post", "findUnique", { where: { id: 1 }, include: { tags: true } }, { id: 1, tags: [] }],
      ["Tag", "findUnique", { where: { id: 2 }, include: { posts: true } }, { id: 2, posts: [] }],
      ["Post", "count", { where: { tags: { some: {} } } }, 0],
    ],
    leaves: [
      ["Post", "findUnique", { where: { id: 1 } }, { id: 1 }],
      ["Post", "findMany", {}, [{ id: 1 }]],
      ["Tag", "findUnique", { where: { id: 2 } }, { id: 2 }],
      ["Tag", "findMany", {}, [{ id: 2 }]],
    ],
  },
  {
    why: "a nested connect on a to-many relation moves the connected row to the parent's key",
    write: ["User", "update", { where: { id: 1 }, data: { posts: { connect: { id: 4 } } } }, { id: 1 }],
    bumps: ["m:Post", "r:Post:[#4]", "f:Post.authorId", "v:Post.authorId:#1"],
    changes: [
      ["User", "findUnique", { where: { id: 1 }, include: { posts: true } }, { id: 1, posts: [] }],
      ["Post", "findUnique", { where: { id: 4 } }, { id: 4, authorId: 2 }],
    ],
    leaves: [["User", "findUnique", { where: { id: 1 } }, { id: 1 }]],
  },
  {
    why: "a nested connect whose parent's key is not known (where by email, no id selected) still moves the connected row",
    write: ["User", "update", { where: { email: "a" }, data: { posts: { connect: { id: 4 } } }, select: { name: true } }, { name: null }],
    bumps: ["m:Post", "r:Post:[#4]", "f:Post.authorId", "v:Post.authorId"],
    changes: [
      ["Post", "findUnique", { where: { id: 4 } }, { id: 4, authorId: 2 }],
      ["User", "findUnique", { where: { email: "a" }, include: { posts: true } }, { id: 1, posts: [] }],
      ["Post", "count", { where: { authorId: 2 } }, 1],
    ],
    leaves: [],
  },
  {
    why: "a primary-key change: the old and the new row, onUpdate Cascade and the m-n links",
    write: ["Post", "update", { where: { id: 3 }, data: { id: 9 } }, { id: 9 }],
    bumps: [
      "m:Post",
      "f:Post.id",
      "n:Post",
      "r:Post:[#3]",
      "r:Post:[#9]",
      "m:_PostToTag",
      "v:_PostToTag.Post",
      "v:_PostToTag.Tag",
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
    ],
    changes: [
      ["Post", "findUnique", { where: { id: 3 } }, { id: 3 }],
      ["Post", "findUnique", { where: { id: 9 } }, null],
      ["Post", "findMany", {}, [{ id: 3 }]],
      ["Comment", "findMany", { where: { postId: 3 } }, [{ id: 8, postId: 3 }]],
    ],
    leaves: [["Post", "findUnique", { where: { id: 4 } }, { id: 4 }]],
  },
  {
    why: "a compound primary-key change: the old and the new row, and the key value the row takes",
    write: ["Membership", "update", { where: { userId_groupId: { userId: 1, groupId: 2 } }, data: { userId: 3 } }, { userId: 3, groupId: 2 }],
    bumps: ["m:Membership", "f:Membership.userId", "n:Membership", "r:Membership:[#1,#2]", "r:Membership:[#3,#2]", "v:Membership.userId:#3"],
    changes: [
      ["Membership", "findMany", { where: { userId: 1 } }, [{ userId: 1, groupId: 2 }]],
      ["User", "findUnique", { where: { id: 1 }, include: { memberships: true } }, { id: 1, memberships: [{ userId: 1, groupId: 2 }] }],
      ["Membership", "findUnique", { where: { userId_groupId: { userId: 1, groupId: 2 } } }, { userId: 1, groupId: 2 }],
      ["Membership", "findMany", { where: { userId: 3 } }, []],
    ],
    leaves: [["Membership", "findMany", { where: { userId: 4 } }, [{ userId: 4, groupId: 2 }]]],
  },
  {
    why: "an update of a user's name changes a lookup by id filtered by its author's name",
    write: ["User", "update", { where: { id: 2 }, data: { name: "a" } }, { id: 2 }],
    bumps: ["m:User", "r:User:[#2]", "f:User.name"],
    changes: [
      ["Post", "findUnique", { where: { id: 1, author: { is: { name: "a" } } } }, null],
      ["Post", "findMany", { where: { author: { is: { name: "a" } } } }, []],
    ],
    leaves: [["Post", "findUnique", { where: { id: 1 } }, { id: 1, authorId: 2 }]],
  },
  {
    why: "updateMany: rows unknown, so every row of the model",
    write: ["User", "updateMany", { where: { name: "x" }, data: { name: "y" } }, { count: 2 }],
    // Coarser than needed: n:User and s:User (no unique field set, no row created or deleted) come with b:User.
    bumps: ["m:User", "b:User", "n:User", "s:User", "f:User.name"],
    changes: [
      ["User", "findUnique", { where: { id: 1 } }, { id: 1, name: "x" }],
      ["User", "findMany", { where: { name: "y" } }, []],
    ],
    leaves: [["Post", "findMany", {}, [{ id: 1 }]]],
  },
  {
    why: "updateManyAndReturn: the rows returned and the fields set",
    write: ["Post", "updateManyAndReturn", { where: { published: false }, data: { published: true } }, [{ id: 1, authorId: 5 }]],
    bumps: ["m:Post", "r:Post:[#1]", "f:Post.published"],
    changes: [
      ["Post", "findMany", { where: { published: true } }, []],
      ["Post", "findUnique", { where: { id: 1 } }, { id: 1 }],
    ],
    leaves: [["Post", "findMany", { where: { authorId: 5 } }, [{ id: 2, authorId: 5 }]]],
  },
  {
    why: "createMany: no ids returned, so rows may have appeared",
    write: ["User", "createMany", { data: [{ email: "a" }] }, { count: 1 }],
    bumps: ["m:User", "b:User", "n:User", "s:User"],
    changes: [
      ["User", "findUnique", { where: { id: 9 } }, null],
      ["User", "findUnique", { where: { email: "a" } }, null],
      ["User", "findMany", { where: { managerId: 1 } }, []],
    ],
    leaves: [["Post", "findMany", {}, []]],
  },
  {
    why: "createManyAndReturn: the rows returned and their key values",
    write: ["Post", "createManyAndReturn", { data: [{ title: "a", authorId: 5 }] }, [{ id: 1, authorId: 5 }]],
    bumps: ["m:Post", "n:Post", "s:Post", "r:Post:[#1]", "v:Post.authorId:#5"],
    changes: [["Post", "findMany", { where: { authorId: 5 } }, []]],
    leaves: [["Post", "findMany", { where: { authorId: 6 } }, []]],
  },
  {
    why: "deleteMany: rows unknown, so every row of the model",
    write: ["Comment", "deleteMany", { where: {} }, { count: 3 }],
    bumps: ["m:Comment", "b:Comment", "n:Comment", "s:Comment", "v:Comment.postId"],
    changes: [
      ["Comment", "findUnique", { where: { id: 8 } }, { id: 8 }],
      ["Post", "findUnique", { where: { id: 1 }, include: { comments: true } }, { id: 1, comments: [{ id: 8, postId: 1 }] }],
    ],
    leaves: [["Post", "findUnique", { where: { id: 1 } }, { id: 1 }]],
  },
  {
    why: "a nested delete: the related row and what it cascades to (a post takes its comments and tag links)",
    write: ["User", "update", { where: { id: 1 }, data: { posts: { delete: { id: 4 } } } }, { id: 1 }],
    bumps: [
      "m:Post",
      "r:Post:[#4]",
      "s:Post",
      // Coarser than needed: the deleted post's key is the parent's (1), so v:Post.authorId:#1 would do.
      "v:Post.authorId",
      "m:_PostToTag",
      "v:_PostToTag.Post:#4",
      "v:_PostToTag.Tag",
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
    ],
    changes: [
      ["User", "findUnique", { where: { id: 1 }, include: { posts: true } }, { id: 1, posts: [{ id: 4, authorId: 1 }] }],
      ["User", "findUnique", { where: { id: 1 }, include: { _count: { select: { posts: true } } } }, { id: 1, _count: { posts: 1 } }],
      ["Post", "findUnique", { where: { id: 4 } }, { id: 4 }],
      ["Tag", "findUnique", { where: { id: 2 }, include: { posts: true } }, { id: 2, posts: [{ id: 4 }] }],
      ["Comment", "findMany", { where: { postId: 4 } }, [{ id: 8, postId: 4 }]],
    ],
    leaves: [
      ["User", "findUnique", { where: { id: 1 } }, { id: 1 }],
      ["Tag", "findUnique", { where: { id: 2 } }, { id: 2 }],
    ],
  },
  {
    why: "a nested update of a referenced id: the old and the new row, and what onUpdate Cascade moves",
    write: ["User", "update", { where: { id: 1 }, data: { posts: { update: { where: { id: 4 }, data: { id: 40 } } } } }, { id: 1 }],
    bumps: [
      "m:Post",
      "r:Post:[#4]",
      "r:Post:[#40]",
      "f:Post.id",
      "n:Post",
      "m:_PostToTag",
      "v:_PostToTag.Post",
      "v:_PostToTag.Tag",
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
    ],
    changes: [
      ["Post", "findUnique", { where: { id: 4 } }, { id: 4 }],
      ["Post", "findUnique", { where: { id: 40 } }, null],
      ["Comment", "findMany", { where: { postId: 4 } }, [{ id: 8, postId: 4 }]],
    ],
    leaves: [["User", "findUnique", { where: { id: 1 } }, { id: 1 }]],
  },
  {
    why: "a nested update of other fields: no referential action",
    write: ["User", "update", { where: { id: 1 }, data: { posts: { updateMany: { where: {}, data: { title: "t" } } } } }, { id: 1 }],
    // Coarser than needed: rows unknown, so everything of Post (n:, s:, the links) where b:Post and f:Post.title would do.
    bumps: ["m:Post", "b:Post", "n:Post", "s:Post", "m:_PostToTag", "v:_PostToTag.Post", "v:_PostToTag.Tag"],
    changes: [["Post", "findUnique", { where: { id: 4 } }, { id: 4 }]],
    leaves: [
      ["Comment", "findMany", {}, [{ id: 8, postId: 4 }]],
      ["Tag", "findMany", {}, [{ id: 2 }]],
    ],
  },
];

interface BeforeCase {
  why: string;
  write: [model: string, operation: string, args: Record<string, unknown>];
  bumps: string[];
}

/** What a write bumps before it runs (inside an interactive transaction, or with write marks): what its arguments name. */
const BEFORE: BeforeCase[] = [
  {
    why: "update by id: what it bumps once it ran",
    write: ["User", "update", { where: { id: 1 }, data: { name: "x" } }],
    bumps: ["m:User", "r:User:[#1]", "f:User.name"],
  },
  {
    why: "create: its row is not known yet, its key values from the data are",
    write: ["Comment", "create", { data: { body: "b", post: { connect: { id: 5 } } } }],
    bumps: ["m:Comment", "b:Comment", "n:Comment", "s:Comment", "v:Comment.postId:#5"],
  },
  {
    why: "delete by id: its key values are not known yet",
    write: ["Post", "delete", { where: { id: 1 } }],
    bumps: [
      "m:Post",
      "r:Post:[#1]",
      "s:Post",
      "v:Post.authorId",
      "m:_PostToTag",
      "v:_PostToTag.Post:#1",
      "v:_PostToTag.Tag",
      "m:Comment",
      "b:Comment",
      "n:Comment",
      "s:Comment",
    ],
  },
];

type RawCase = [why: string, sql: string, bumps: string[] | "everything"];
const RAW: RawCase[] = [
  // Coarser than needed: an UPDATE of unknown rows bumps n: and s: with b:.
  ["a mapped table (@@map): its model's rows, by the model's name", `UPDATE "comments" SET body = 'x'`, ["m:Comment", "b:Comment", "n:Comment", "s:Comment"]],
  [
    "an implicit m-n join table: its links, not its models' rows",
    `INSERT INTO "_PostToTag" ("A", "B") VALUES (1, 2)`,
    ["m:_PostToTag", "v:_PostToTag.Post", "v:_PostToTag.Tag"],
  ],
  ["a SELECT writes nothing (set_config included: it writes no table)", "SELECT set_config('app.customer', '1', true)", []],
  ["SQL it cannot follow bumps the whole namespace", "DO $$ BEGIN END $$", "everything"],
];

/** Cases by their full description (`$why` would be shortened in test names). */
const named = <T extends { why: string }>(cases: T[]): [string, T][] => cases.map((c) => [c.why, c]);

describe("what a read depends on", () => {
  it.each(named(READS))("%s", (_why, { read, cache, deps, late }) => {
    const req = requestOf(runtime, read, cache);
    expect(sorted(req.deps)).toEqual(sorted(deps));
    expect(sorted(req.lateDeps?.(read[3]) ?? [])).toEqual(sorted(late));
  });
});

describe("the bound on recorded rows (maxRowDeps)", () => {
  const bounded = runtimeWith({ maxRowDeps: 2 });
  const users = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));

  it("a list with as many rows as the bound records each row", () => {
    const deps = recorded(["User", "findMany", {}, users(2)], bounded);
    expect(sorted(deps)).toEqual(sorted(["b:User", "s:User", "r:User:[#1]", "r:User:[#2]"]));
  });

  it("a list whose result has more rows than the bound records m:Model instead of the rows past it", () => {
    const deps = recorded(["User", "findMany", {}, users(3)], bounded);
    expect(deps).toContain("m:User");
    expect(deps).not.toContain("r:User:[#3]");
    expect(deps.filter((d) => d.startsWith("r:")).length).toBeLessThanOrEqual(2);
  });

  it("the bound holds per level: an include with more rows than the bound records its model", () => {
    const posts = [1, 2, 3].map((id) => ({ id, authorId: 1 }));
    const deps = recorded(["User", "findMany", { include: { posts: true } }, [{ id: 1, posts }]], bounded);
    expect(deps).toContain("r:User:[#1]");
    expect(deps).toContain("v:Post.authorId:#1");
    expect(deps).toContain("m:Post");
    expect(deps).not.toContain("r:Post:[#3]");
  });

  it("a parent level past the bound records its includes' models, not their keys", () => {
    const deps = recorded(["User", "findMany", { include: { posts: true } }, users(3).map((u) => ({ ...u, posts: [] }))], bounded);
    expect(deps).toContain("m:User");
    expect(deps).toContain("m:Post");
    expect(deps).not.toContain("v:Post.authorId:#3");
  });
});

describe("what a write bumps", () => {
  it.each(named(WRITES))("%s", (_why, { write: [model, operation, args, result], bumps }) => {
    expect(sorted(runtime.writePath.deps(model, operation, args, result))).toEqual(sorted(bumps));
  });
});

describe("a write's bumps cover every read it can change", () => {
  it.each(named(WRITES))("%s", (_why, { write: [model, operation, args, result], changes }) => {
    const bumped = new Set(runtime.writePath.deps(model, operation, args, result));
    // Reads that would be served stale: none of what they recorded is bumped.
    const stale = changes.filter((read) => !recorded(read).some((d) => bumped.has(d))).map(label);
    expect(stale).toEqual([]);
  });
});

describe("a write's bumps leave alone the reads it cannot change", () => {
  it.each(named(WRITES.filter((w) => w.leaves.length > 0)))("%s", (_why, { write: [model, operation, args, result], leaves }) => {
    const bumped = new Set(runtime.writePath.deps(model, operation, args, result));
    // Each read, with what it recorded that the write bumps: nothing.
    const met = leaves.map((read) => [label(read), recorded(read).filter((d) => bumped.has(d))]);
    expect(met).toEqual(leaves.map((read) => [label(read), []]));
  });
});

describe("what a write bumps before it runs", () => {
  it.each(named(BEFORE))("%s", (_why, { write: [model, operation, args], bumps }) => {
    expect(sorted(runtime.writePath.depsBefore(model, operation, args))).toEqual(sorted(bumps));
  });
});

describe("what raw SQL bumps", () => {
  it.each(RAW)("%s", (_why, sql, bumps) => {
    const got = runtime.writePath.rawDeps(sql);
    if (bumps === "everything") {
      expect(got).toContain("*");
      for (const m of runtime.graph.models) expect(got).toContain(`m:${m}`);
    } else expect(sorted(got)).toEqual(sorted(bumps));
  });
});

describe("primary keys added to a select", () => {
  it("the query selects the ids a select leaves out, at every level, and the result is given back without them", () => {
    const req = requestOf(runtime, ["Post", "findMany", { select: { title: true, author: { select: { name: true } }, tags: { select: { name: true } } } }, []]);
    expect(req.keyed?.args).toEqual({
      select: { title: true, id: true, author: { select: { name: true, id: true } }, tags: { select: { name: true, id: true } } },
    });
    const raw = [
      { title: "t", id: 1, author: { name: "a", id: 2 }, tags: [{ name: "x", id: 3 }] },
      { title: "u", id: 4, author: null, tags: [] },
    ];
    expect(req.keyed!.strip(raw)).toEqual([
      { title: "t", author: { name: "a" }, tags: [{ name: "x" }] },
      { title: "u", author: null, tags: [] },
    ]);
  });

  it("a read whose every level returns its ids runs as written", () => {
    expect(requestOf(runtime, ["Post", "findMany", { select: { id: true, title: true }, include: undefined }, []]).keyed).toBeUndefined();
    expect(requestOf(runtime, ["Post", "findMany", { include: { author: true } }, []]).keyed).toBeUndefined();
    expect(requestOf(runtime, ["Post", "count", { select: { title: true } }, 0]).keyed).toBeUndefined();
  });
});
