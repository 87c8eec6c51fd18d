import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { affectedByDelete, affectedByUpdate, parseRelations, type ForeignKey, type RelationFacts } from "../../src/deps/schema.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const projectSchema = readFileSync(`${root}prisma/schema.prisma`, "utf8");

function parse(schema: string): RelationFacts {
  const facts = parseRelations(schema);
  if (facts === undefined) throw new Error("schema did not parse");
  return facts;
}

function rel(facts: RelationFacts, model: string, field: string): ForeignKey {
  const found = facts.relations.find((r) => r.model === model && r.field === field);
  if (found === undefined) throw new Error(`no foreign key ${model}.${field}`);
  return found;
}

describe("parseRelations on the project schema", () => {
  const facts = parse(projectSchema);

  it("finds every model, with @@map names", () => {
    expect(Object.keys(facts.models)).toEqual(["User", "Profile", "Post", "Comment", "Tag", "Group", "Membership", "Sample", "Customer", "Order"]);
    expect(facts.models.Comment!.dbName).toBe("comments");
    expect(facts.models.Post!.dbName).toBeNull();
    expect(facts.models.Post!.columns).toEqual({
      id: "id",
      title: "title",
      content: "content",
      published: "published",
      views: "views",
      authorId: "authorId",
      createdAt: "createdAt",
    });
  });

  it("returns only the foreign-key sides, with explicit and default referential actions", () => {
    expect(facts.relations).toEqual([
      {
        model: "User",
        field: "manager",
        relationName: "Management",
        fields: ["managerId"],
        target: "User",
        references: ["id"],
        onDelete: "SetNull",
        onUpdate: "Cascade",
        optional: true,
      },
      {
        model: "Profile",
        field: "user",
        relationName: "ProfileToUser",
        fields: ["userId"],
        target: "User",
        references: ["id"],
        onDelete: "Cascade",
        onUpdate: "Cascade",
        optional: false,
      },
      {
        model: "Post",
        field: "author",
        relationName: "PostToUser",
        fields: ["authorId"],
        target: "User",
        references: ["id"],
        onDelete: "SetNull",
        onUpdate: "Cascade",
        optional: true,
      },
      {
        model: "Comment",
        field: "post",
        relationName: "CommentToPost",
        fields: ["postId"],
        target: "Post",
        references: ["id"],
        onDelete: "Cascade",
        onUpdate: "Cascade",
        optional: false,
      },
      {
        model: "Membership",
        field: "user",
        relationName: "MembershipToUser",
        fields: ["userId"],
        target: "User",
        references: ["id"],
        onDelete: "Cascade",
        onUpdate: "Cascade",
        optional: false,
      },
      {
        model: "Membership",
        field: "group",
        relationName: "GroupToMembership",
        fields: ["groupId"],
        target: "Group",
        references: ["id"],
        onDelete: "Cascade",
        onUpdate: "Cascade",
        optional: false,
      },
      {
        model: "Order",
        field: "customer",
        relationName: "CustomerToOrder",
        fields: ["customerId"],
        target: "Customer",
        references: ["id"],
        onDelete: "Cascade",
        onUpdate: "Cascade",
        optional: false,
      },
    ]);
  });

  it("reports the implicit many-to-many join table", () => {
    expect(facts.joinTables).toEqual([{ table: "_PostToTag", relationName: "PostToTag", models: ["Post", "Tag"] }]);
  });

  it("reports ids, uniques and compound keys", () => {
    expect(facts.models.User!.id).toEqual(["id"]);
    expect(facts.models.User!.uniques).toEqual([["email"]]);
    expect(facts.models.Profile!.uniques).toEqual([["userId"]]);
    expect(facts.models.Membership!.id).toEqual(["userId", "groupId"]);
    expect(facts.models.Membership!.compoundKeys).toEqual({ userId_groupId: ["userId", "groupId"] });
    expect(facts.models.Sample!.id).toEqual(["id"]);
    expect(facts.models.Sample!.uniques).toEqual([["tenant", "slug"]]);
    expect(facts.models.Sample!.compoundKeys).toEqual({ tenant_slug: ["tenant", "slug"] });
  });

  it("classifies fields", () => {
    const user = facts.models.User!;
    const field = (name: string) => user.fields.find((f) => f.name === name);
    expect(field("role")).toMatchObject({ kind: "enum", type: "Role", column: "role" });
    expect(field("manager")).toMatchObject({ kind: "object", type: "User", optional: true, list: false, column: null });
    expect(field("reports")).toMatchObject({ kind: "object", list: true });
    expect(field("name")).toMatchObject({ kind: "scalar", optional: true });
    expect(user.columns).not.toHaveProperty("posts");
    expect(facts.models.Sample!.fields.find((f) => f.name === "decimal")).toMatchObject({ kind: "scalar", type: "Decimal" });
  });

  it("computes what a delete changes through referential actions", () => {
    // manager SetNull (self), Profile Cascade, Post.author SetNull, Membership Cascade
    expect(affectedByDelete(facts, "User")).toEqual(["User", "Profile", "Post", "Membership"]);
    // join rows in _PostToTag, comments cascade
    expect(affectedByDelete(facts, "Post")).toEqual(["Tag", "Comment"]);
    expect(affectedByDelete(facts, "Tag")).toEqual(["Post"]);
    expect(affectedByDelete(facts, "Group")).toEqual(["Membership"]);
    expect(affectedByDelete(facts, "Comment")).toEqual([]);
    expect(affectedByDelete(facts, "Sample")).toEqual([]);
    expect(affectedByDelete(facts, "Nope")).toEqual([]);
  });

  it("computes what an update changes, only when referenced fields change", () => {
    expect(affectedByUpdate(facts, "Post", ["title", "views"])).toEqual([]);
    expect(affectedByUpdate(facts, "Post", ["id"])).toEqual(["Tag", "Comment"]);
    expect(affectedByUpdate(facts, "User", ["email"])).toEqual([]);
    expect(affectedByUpdate(facts, "User", ["id", "name"])).toEqual(["User", "Profile", "Post", "Membership"]);
    expect(affectedByUpdate(facts, "User", [])).toEqual([]);
  });

  const generated = `${root}generated/prisma/internal/class.ts`;
  it("parses the generated client's inlineSchema to the same facts", () => {
    expect(existsSync(generated), "run `npm run generate` first").toBe(true);
    const source = readFileSync(generated, "utf8");
    const literal = /"inlineSchema":\s*("(?:[^"\\]|\\.)*")/.exec(source)?.[1];
    expect(literal).toBeDefined();
    const inline = JSON.parse(literal!) as string;
    expect(parseRelations(inline)).toEqual(facts);
  });
});

describe("parseRelations on small schemas", () => {
  it("returns undefined for missing, empty or unparseable input", () => {
    expect(parseRelations(undefined)).toBeUndefined();
    expect(parseRelations(null)).toBeUndefined();
    expect(parseRelations("")).toBeUndefined();
    expect(parseRelations("   \n// only a comment\n")).toBeUndefined();
    expect(parseRelations(42 as unknown as string)).toBeUndefined();
    expect(parseRelations('datasource db {\n  provider = "postgresql"\n}\n')).toBeUndefined(); // no model
    expect(parseRelations("model A {\n  id Int @id\n")).toBeUndefined(); // unterminated
    expect(parseRelations("model A {\n  id Int @id(\n}\n")).toBeUndefined();
    expect(parseRelations('model A {\n  id Int @id\n  name String @default("x)\n}\n')).toBeUndefined();
    expect(parseRelations("SELECT 1;")).toBeUndefined();
    expect(parseRelations("whatever A {\n}\n")).toBeUndefined();
  });

  it("rejects an unknown referential action and unpaired fields/references", () => {
    const base = (attr: string) => `model A {\n  id Int @id\n  bs B[]\n}\nmodel B {\n  id Int @id\n  aId Int\n  a A @relation(${attr})\n}\n`;
    expect(parseRelations(base("fields: [aId], references: [id]"))).toBeDefined();
    expect(parseRelations(base("fields: [aId], references: [id], onDelete: Explode"))).toBeUndefined();
    expect(parseRelations(base("fields: [aId]"))).toBeUndefined();
    expect(parseRelations(base("fields: [aId], references: [id, id]"))).toBeUndefined();
    expect(parseRelations(base("fields: [nope], references: [id]"))).toBeUndefined();
  });

  it("applies Prisma's defaults: SetNull when optional, Restrict when required, onUpdate Cascade", () => {
    const facts = parse(`
      model User {
        id     Int    @id
        posts  Post[]
        drafts Draft[]
        notes  Note[]
      }
      model Post {
        id       Int   @id
        authorId Int?
        author   User? @relation(fields: [authorId], references: [id])
      }
      model Draft {
        id       Int  @id
        authorId Int
        author   User @relation(fields: [authorId], references: [id])
      }
      model Note {
        id       Int   @id
        authorId Int
        // relation field optional, FK scalar required: referentially required
        author   User? @relation(fields: [authorId], references: [id])
      }
    `);
    expect(rel(facts, "Post", "author")).toMatchObject({ onDelete: "SetNull", onUpdate: "Cascade", optional: true });
    expect(rel(facts, "Draft", "author")).toMatchObject({ onDelete: "Restrict", onUpdate: "Cascade", optional: false });
    expect(rel(facts, "Note", "author")).toMatchObject({ onDelete: "Restrict", optional: false });
    expect(affectedByDelete(facts, "User")).toEqual(["Post"]);
    expect(affectedByUpdate(facts, "User", ["id"])).toEqual(["Post", "Draft", "Note"]);
  });

  it("reads @relation arguments in any order, named or positional, across lines", () => {
    const facts = parse(`
      model A {
        id Int @id
        b1 B[] @relation("first")
        b2 B[] @relation(name: "second")
      }
      model B {
        id  Int @id
        a1Id Int
        a2Id Int?
        a1  A  @relation(onUpdate: NoAction, references: [id], map: "fk_a1", fields: [a1Id], name: "first", onDelete: Cascade)
        a2  A? @relation(
          "second",
          onDelete: SetDefault,
          fields: [a2Id],
          references: [id],
        )
      }
    `);
    expect(rel(facts, "B", "a1")).toEqual({
      model: "B",
      field: "a1",
      relationName: "first",
      fields: ["a1Id"],
      target: "A",
      references: ["id"],
      onDelete: "Cascade",
      onUpdate: "NoAction",
      optional: false,
    });
    expect(rel(facts, "B", "a2")).toMatchObject({ relationName: "second", onDelete: "SetDefault", onUpdate: "Cascade", optional: true });
    expect(facts.joinTables).toEqual([]);
  });

  it("handles several relations between the same two models", () => {
    const facts = parse(`
      model User {
        id       Int    @id @default(autoincrement())
        written  Post[] @relation("WrittenPosts")
        edited   Post[] @relation("EditedPosts")
        pinned   Post?  @relation("Pinned", fields: [pinnedId], references: [id], onDelete: SetNull, onUpdate: NoAction)
        pinnedId Int?   @unique
      }
      model Post {
        id       Int   @id @default(autoincrement())
        authorId Int
        editorId Int?
        author   User  @relation("WrittenPosts", fields: [authorId], references: [id], onDelete: Cascade)
        editor   User? @relation("EditedPosts", fields: [editorId], references: [id])
        pinnedBy User? @relation("Pinned")
      }
    `);
    expect(facts.relations.map((r) => [r.model, r.field, r.relationName, r.target, r.onDelete, r.onUpdate])).toEqual([
      ["User", "pinned", "Pinned", "Post", "SetNull", "NoAction"],
      ["Post", "author", "WrittenPosts", "User", "Cascade", "Cascade"],
      ["Post", "editor", "EditedPosts", "User", "SetNull", "Cascade"],
    ]);
    expect(facts.joinTables).toEqual([]);
    // Deleting a user deletes their posts, which nulls users' pinned post.
    expect(affectedByDelete(facts, "User")).toEqual(["Post", "User"]);
    // Changing a post id: pinned has onUpdate NoAction, so nothing.
    expect(affectedByUpdate(facts, "Post", ["id"])).toEqual([]);
  });

  it("handles self-relations (1-1, 1-n, m-n)", () => {
    const facts = parse(`
      model Person {
        id          Int      @id
        spouseId    Int?     @unique
        spouse      Person?  @relation("Marriage", fields: [spouseId], references: [id])
        spouseOf    Person?  @relation("Marriage")
        parentId    Int?
        parent      Person?  @relation("Family", fields: [parentId], references: [id], onDelete: Cascade)
        children    Person[] @relation("Family")
        followers   Person[] @relation("Follows")
        following   Person[] @relation("Follows")
      }
    `);
    expect(rel(facts, "Person", "spouse")).toMatchObject({ target: "Person", onDelete: "SetNull", optional: true });
    expect(rel(facts, "Person", "parent")).toMatchObject({ target: "Person", onDelete: "Cascade" });
    expect(facts.relations).toHaveLength(2);
    expect(facts.joinTables).toEqual([{ table: "_Follows", relationName: "Follows", models: ["Person", "Person"] }]);
    expect(affectedByDelete(facts, "Person")).toEqual(["Person"]);
    expect(affectedByUpdate(facts, "Person", ["id"])).toEqual(["Person"]);
  });

  it("handles compound foreign keys, @@id, @@unique with names, and transitive cascades", () => {
    const facts = parse(`
      model Tenant {
        id    String @id
        users User[]
      }
      model User {
        tenantId String
        no       Int
        email    String
        tenant   Tenant  @relation(fields: [tenantId], references: [id], onUpdate: Cascade, onDelete: Cascade)
        orders   Order[]
        @@id([tenantId, no])
        @@unique(fields: [tenantId, email], name: "byEmail")
      }
      model Order {
        id        Int    @id
        tenantId  String
        userNo    Int
        ref       String
        user      User   @relation(fields: [tenantId, userNo], references: [tenantId, no], onDelete: Cascade)
        lines     Line[]
        @@unique([tenantId, ref(sort: Desc)], map: "order_ref")
      }
      model Line {
        id       Int    @id
        tenantId String
        orderId  Int
        order    Order  @relation(fields: [orderId], references: [id], onDelete: Cascade)
      }
    `);
    expect(rel(facts, "Order", "user")).toMatchObject({ fields: ["tenantId", "userNo"], references: ["tenantId", "no"], target: "User", optional: false });
    expect(facts.models.User!.id).toEqual(["tenantId", "no"]);
    expect(facts.models.User!.compoundKeys).toEqual({ tenantId_no: ["tenantId", "no"], byEmail: ["tenantId", "email"] });
    expect(facts.models.Order!.uniques).toEqual([["tenantId", "ref"]]);
    expect(facts.models.Order!.compoundKeys).toEqual({ tenantId_ref: ["tenantId", "ref"] });
    // transitive delete cascade
    expect(affectedByDelete(facts, "Tenant")).toEqual(["User", "Order", "Line"]);
    // Tenant.id -> User.tenantId (Cascade) -> Order.(tenantId, userNo) (Cascade); Line references Order.id only.
    expect(affectedByUpdate(facts, "Tenant", ["id"])).toEqual(["User", "Order"]);
    expect(affectedByUpdate(facts, "User", ["email"])).toEqual([]);
    expect(affectedByUpdate(facts, "User", ["no"])).toEqual(["Order"]);
    expect(affectedByUpdate(facts, "Order", ["id"])).toEqual(["Line"]);
  });

  it("propagates SetNull on delete into the child's onUpdate rules", () => {
    const facts = parse(`
      model A {
        id Int @id
        bs B[]
      }
      model B {
        id   Int  @id
        aId  Int? @unique
        a    A?   @relation(fields: [aId], references: [id])
        cs   C[]
      }
      model C {
        id   Int  @id
        bAId Int?
        b    B?   @relation(fields: [bAId], references: [aId], onUpdate: Cascade, onDelete: Restrict)
      }
    `);
    expect(affectedByDelete(facts, "A")).toEqual(["B", "C"]);
    expect(affectedByDelete(facts, "B")).toEqual([]);
  });

  it("reads @map and @@map, and ignores comments and doc comments", () => {
    const facts = parse(`
      // model Fake {
      //   id Int @id
      // }
      /// A user.
      model User {
        /// Primary key // not a comment end
        id        Int      @id @map("user_id") // trailing comment
        fullName  String   @map(name: "full_name") @db.VarChar(200)
        url       String   @default("http://example.com/a//b") // "//" inside a string is not a comment
        posts     Post[]

        @@map("users")
        @@schema("auth")
      }

      model Post {
        id       Int  @id @default(autoincrement())
        ownerId  Int  @map("owner_id")
        owner    User @relation(fields: [ownerId], references: [id], map: "posts_owner_fk")
        @@map(name: "posts")
        @@index([ownerId])
      }
    `);
    expect(Object.keys(facts.models)).toEqual(["User", "Post"]);
    expect(facts.models.User).toMatchObject({ dbName: "users", schema: "auth", columns: { id: "user_id", fullName: "full_name", url: "url" } });
    expect(facts.models.Post).toMatchObject({ dbName: "posts", columns: { id: "id", ownerId: "owner_id" } });
    expect(rel(facts, "Post", "owner")).toMatchObject({ fields: ["ownerId"], references: ["id"], onDelete: "Restrict" });
  });

  it("names implicit many-to-many join tables after the relation name or the sorted model names", () => {
    const facts = parse(`
      model Tag {
        id         Int        @id
        posts      Post[]
        categories Category[] @relation("Labels")
      }
      model Post {
        id   Int   @id
        tags Tag[]
      }
      model Category {
        id   Int   @id
        tags Tag[] @relation("Labels")
      }
      model Zebra {
        id     Int      @id
        apples apple[]
      }
      model apple {
        id     Int     @id
        zebras Zebra[]
      }
    `);
    expect(facts.joinTables).toEqual([
      { table: "_PostToTag", relationName: "PostToTag", models: ["Post", "Tag"] },
      { table: "_Labels", relationName: "Labels", models: ["Category", "Tag"] },
      // byte order: upper case sorts before lower case
      { table: "_ZebraToapple", relationName: "ZebraToapple", models: ["Zebra", "apple"] },
    ]);
    expect(facts.relations).toEqual([]);
    expect(affectedByDelete(facts, "Tag")).toEqual(["Post", "Category"]);
    expect(affectedByUpdate(facts, "Tag", ["id"])).toEqual(["Post", "Category"]);
  });

  it("skips enums, composite types, generator and datasource blocks, and handles Unsupported types", () => {
    const facts = parse(`
      generator client {
        provider = "prisma-client"
        previewFeatures = ["views", "multiSchema"]
      }
      datasource db {
        provider = "postgresql"
        schemas  = ["public", "auth"]
      }
      enum Color {
        RED   @map("red")
        GREEN
        @@map("colors")
      }
      type Address {
        street String
      }
      model Shape {
        id     String                   @id @default(dbgenerated("gen_random_uuid()")) @db.Uuid
        color  Color                    @default(RED)
        area   Unsupported("circle")?
        tags   String[]                 @default([])
        score  Float                    @default(-1.5)
        @@unique([color, score], name: "colorScore")
      }
      view ShapeStats {
        color Color @unique
        n     Int
      }
    `);
    expect(Object.keys(facts.models)).toEqual(["Shape", "ShapeStats"]);
    expect(facts.models.Shape!.fields.map((f) => [f.name, f.kind, f.optional, f.list])).toEqual([
      ["id", "scalar", false, false],
      ["color", "enum", false, false],
      ["area", "unsupported", true, false],
      ["tags", "scalar", false, true],
      ["score", "scalar", false, false],
    ]);
    expect(facts.models.Shape!.compoundKeys).toEqual({ colorScore: ["color", "score"] });
    expect(facts.models.ShapeStats).toMatchObject({ view: true, id: null, uniques: [["color"]] });
  });

  it("keeps @unique and @@unique in schema order", () => {
    const facts = parse(`
      model M {
        id Int @id
        a  Int @unique
        @@unique([b, c])
        b  Int
        c  Int @unique
        @@unique([a, c])
      }
    `);
    expect(facts.models.M!.uniques).toEqual([["a"], ["b", "c"], ["c"], ["a", "c"]]);
  });

  it("stops on cyclic cascades", () => {
    const facts = parse(`
      model A {
        id  Int  @id
        bId Int?
        b   B?   @relation("ab", fields: [bId], references: [id], onDelete: Cascade)
        bs  B[]  @relation("ba")
      }
      model B {
        id  Int  @id
        aId Int?
        a   A?   @relation("ba", fields: [aId], references: [id], onDelete: Cascade)
        as  A[]  @relation("ab")
      }
    `);
    expect(affectedByDelete(facts, "A")).toEqual(["B", "A"]);
    // A.id -> B.aId changes; nothing references B.aId, so it stops there.
    expect(affectedByUpdate(facts, "A", ["id"])).toEqual(["B"]);
    expect(affectedByDelete(facts, "B")).toEqual(["A", "B"]);
  });
});
