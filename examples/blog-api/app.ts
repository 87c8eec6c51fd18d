/**
 * A RealWorld ("Conduit") blog API on `node:http`, over the blog schema
 * (`schema.prisma`), with prisma-tiered-cache added in one line:
 * `prismaCache({ redis, ttl: 60 })`, nothing model-specific. The queries are
 * written as RealWorld backends write them, include-heavy: an article comes
 * with its author (and whether the current user follows them), its tags,
 * its favorites count and whether the current user favorited it.
 *
 * | Route | Prisma calls |
 * | --- | --- |
 * | `GET /articles?limit=20&offset=0` (`&tag=`, `&author=`, `&favorited=`) | `article.findMany` (body omitted, newest first) and `article.count` |
 * | `GET /articles/:slug` | `article.findUnique` by slug |
 * | `GET /articles/:slug/comments` | `article.findUnique` by slug, with its comments and their authors |
 * | `GET /profiles/:username` | `user.findUnique` by username, with whether the current user follows them |
 * | `GET /tags` | `tag.findMany` |
 * | `GET /user` | `user.findUnique` of the current user |
 * | `POST /articles` | `article.create`, tags by `connectOrCreate` |
 * | `PUT /articles/:slug` | `article.update` of title, description, body (the slug stays) |
 * | `POST` / `DELETE /articles/:slug/favorite` | `article.update`: `favoritedBy` connect / disconnect |
 * | `POST /articles/:slug/comments` | `comment.create`, article and author by `connect` |
 * | `POST` / `DELETE /profiles/:username/follow` | `user.update`: `followedBy` connect / disconnect |
 * | `GET /metrics`, `GET /health` | the cache's counters for Prometheus (`../http-api/metrics.ts`); `{ "ok": true, "cache": ... }` |
 *
 * Bodies and answers are RealWorld's (`{ "article": { ... } }`, errors as
 * `{ "errors": { "body": [...] } }`). There is no authentication: the
 * current user is the id in the `x-user-id` header, which writes require
 * and reads take when given.
 *
 * Reading your writes through another instance works as in the HTTP API
 * example: a write's answer carries `x-cache-bump`, and a read that sends it
 * back as `x-cache-after` waits until its instance has applied that bump (at
 * most {@link DELIVERY_WAIT_MS}), or reads the database if it was not applied
 * in time. That plumbing, and the rest both examples share (clients,
 * metrics, spans, JSON bodies, listening), is in `../shared/http.ts`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "../../generated/blog/client";
import { prismaCache } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { type ApiOptions, apiClients, HttpError, type RunningApi, readBody, reply, serveApi } from "../shared/http";

export { AFTER_HEADER, BUMP_HEADER, DELIVERY_WAIT_MS, formatBump, parseBump } from "../shared/http";

/** Request header: the current user's id. */
export const USER_HEADER = "x-user-id";

const MAX_LIMIT = 100;

/** Options of {@link startBlogApi} (`databaseUrl`: a database with the blog migrations applied, by `database.ts`). */
export type BlogApiOptions = ApiOptions;

/** A listening instance of the API. */
export type RunningBlogApi = RunningApi;

/** The routes, by method and path. */
const ROUTES: ReadonlyArray<readonly [method: string, path: RegExp, route: string]> = [
  ["GET", /^\/articles$/, "GET /articles"],
  ["POST", /^\/articles$/, "POST /articles"],
  ["GET", /^\/articles\/([^/]+)$/, "GET /articles/:slug"],
  ["PUT", /^\/articles\/([^/]+)$/, "PUT /articles/:slug"],
  ["GET", /^\/articles\/([^/]+)\/comments$/, "GET /articles/:slug/comments"],
  ["POST", /^\/articles\/([^/]+)\/comments$/, "POST /articles/:slug/comments"],
  ["POST", /^\/articles\/([^/]+)\/favorite$/, "POST /articles/:slug/favorite"],
  ["DELETE", /^\/articles\/([^/]+)\/favorite$/, "DELETE /articles/:slug/favorite"],
  ["GET", /^\/profiles\/([^/]+)$/, "GET /profiles/:username"],
  ["POST", /^\/profiles\/([^/]+)\/follow$/, "POST /profiles/:username/follow"],
  ["DELETE", /^\/profiles\/([^/]+)\/follow$/, "DELETE /profiles/:username/follow"],
  ["GET", /^\/tags$/, "GET /tags"],
  ["GET", /^\/user$/, "GET /user"],
  ["GET", /^\/metrics$/, "GET /metrics"],
  ["GET", /^\/health$/, "GET /health"],
];

/** The route of a request, and its path parameter (a slug or a username) if any. */
function routeOf(method: string | undefined, pathname: string): { route: string; param: string } {
  for (const [m, path, route] of ROUTES) {
    const match = path.exec(pathname);
    if (!match) continue;
    if (m !== method) continue;
    let param = "";
    try {
      param = decodeURIComponent(match[1] ?? "");
    } catch {
      throw new HttpError(400, "malformed path");
    }
    return { route, param };
  }
  throw new HttpError(404, `no route ${method} ${pathname}`);
}

/** The client the routes use: the cached one (which answers these calls as the plain one does), or the plain one. */
type Db = Pick<PrismaClient, "user" | "article" | "comment" | "tag">;

/** A profile as the queries select it: `followedBy` holds the current user, if they follow this one. */
interface ProfileRow {
  username: string;
  bio: string | null;
  image: string | null;
  followedBy?: Array<{ id: number }>;
}

/** An article as the queries include it (`body` is omitted from lists). */
interface ArticleRow {
  slug: string;
  title: string;
  description: string;
  body?: string;
  createdAt: Date;
  updatedAt: Date;
  author: ProfileRow;
  tagList: Array<{ name: string }>;
  /** The current user, if they favorited it. */
  favoritedBy?: Array<{ id: number }>;
  _count: { favoritedBy: number };
}

/** What a profile reads: the current user among its followers tells `following`. */
function profileSelect(me: number | undefined) {
  return {
    username: true,
    bio: true,
    image: true,
    followedBy: me === undefined ? false : { where: { id: me }, select: { id: true } },
  } satisfies Prisma.UserSelect;
}

/** What an article includes: its author's profile, its tags, its favorites count, and the current user's favorite. */
function articleInclude(me: number | undefined) {
  return {
    author: { select: profileSelect(me) },
    tagList: { select: { name: true }, orderBy: { name: "asc" } },
    favoritedBy: me === undefined ? false : { where: { id: me }, select: { id: true } },
    _count: { select: { favoritedBy: true } },
  } satisfies Prisma.ArticleInclude;
}

const profileOf = (u: ProfileRow) => ({ username: u.username, bio: u.bio, image: u.image, following: (u.followedBy?.length ?? 0) > 0 });

function articleOf(a: ArticleRow) {
  return {
    slug: a.slug,
    title: a.title,
    description: a.description,
    ...(a.body === undefined ? {} : { body: a.body }),
    tagList: a.tagList.map((t) => t.name),
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    favorited: (a.favoritedBy?.length ?? 0) > 0,
    favoritesCount: a._count.favoritedBy,
    author: profileOf(a.author),
  };
}

/**
 * Starts one instance: a Prisma client on `databaseUrl` (through
 * @prisma/adapter-pg), with `prismaCache({ redis, ttl: 60 })` unless `cache`
 * is false, and an HTTP server on 127.0.0.1. Resolves once it listens and,
 * with the cache, once it hears other instances' bumps.
 * @throws if `cache` is on and there is no `redisUrl`, or if the port is taken.
 */
export async function startBlogApi(options: BlogApiOptions): Promise<RunningBlogApi> {
  const cached = options.cache ?? true;
  if (cached && !options.redisUrl) throw new Error("startBlogApi: redisUrl is required with the cache (or pass cache: false)");
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: options.databaseUrl }) });
  const api = apiClients<Db>({
    name: "blog-api",
    base,
    redisUrl: cached ? options.redisUrl : undefined,
    // The one line: the rest of the app is the same with or without it.
    withCache: (redis) => base.$extends(prismaCache({ redis, ttl: options.ttl ?? 60, namespace: options.namespace, heartbeat: options.heartbeat })),
  });
  const { db, readerFor, bumpHeader } = api;

  return serveApi(api, {
    name: "blog-api",
    port: options.port,
    route(req, res) {
      const url = new URL(req.url ?? "/", "http://localhost");
      let matched: { route: string; param: string };
      try {
        matched = routeOf(req.method, url.pathname);
      } catch (err) {
        return { route: `${req.method} (no route)`, answer: () => Promise.reject(err) };
      }
      return { route: matched.route, answer: () => handle(req, res, url, matched.route, matched.param) };
    },
    failure,
  });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, route: string, param: string): Promise<void> {
    const me = currentUser(req);
    switch (route) {
      case "GET /articles": {
        const q = url.searchParams;
        const limit = count(q.get("limit"), 20, "limit");
        const offset = count(q.get("offset"), 0, "offset");
        if (limit > MAX_LIMIT) throw new HttpError(422, `limit must be at most ${MAX_LIMIT}`);
        const where: Prisma.ArticleWhereInput = {};
        const tag = q.get("tag");
        const author = q.get("author");
        const favorited = q.get("favorited");
        if (tag) where.tagList = { some: { name: tag } };
        if (author) where.author = { username: author };
        if (favorited) where.favoritedBy = { some: { username: favorited } };
        const reader = await readerFor(req);
        const [articles, articlesCount] = await Promise.all([
          reader.article.findMany({
            where,
            include: articleInclude(me),
            omit: { body: true },
            orderBy: [{ createdAt: "desc" }, { id: "desc" }],
            take: limit,
            skip: offset,
          }),
          reader.article.count({ where }),
        ]);
        return reply(res, 200, { articles: articles.map((a) => articleOf(a as ArticleRow)), articlesCount });
      }
      case "GET /articles/:slug": {
        const reader = await readerFor(req);
        const article = await reader.article.findUnique({ where: { slug: param }, include: articleInclude(me) });
        if (!article) throw new HttpError(404, "article not found");
        return reply(res, 200, { article: articleOf(article as ArticleRow) });
      }
      case "GET /articles/:slug/comments": {
        const reader = await readerFor(req);
        const article = await reader.article.findUnique({
          where: { slug: param },
          include: { comments: { include: { author: { select: profileSelect(me) } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] } },
        });
        if (!article) throw new HttpError(404, "article not found");
        const comments = article.comments.map((c) => ({ id: c.id, createdAt: c.createdAt, body: c.body, author: profileOf(c.author) }));
        return reply(res, 200, { comments });
      }
      case "GET /profiles/:username": {
        const reader = await readerFor(req);
        const user = await reader.user.findUnique({ where: { username: param }, select: profileSelect(me) });
        if (!user) throw new HttpError(404, "profile not found");
        return reply(res, 200, { profile: profileOf(user) });
      }
      case "GET /tags": {
        const reader = await readerFor(req);
        const tags = await reader.tag.findMany({ select: { name: true }, orderBy: { name: "asc" } });
        return reply(res, 200, { tags: tags.map((t) => t.name) });
      }
      case "GET /user": {
        const id = required(me);
        const reader = await readerFor(req);
        const user = await reader.user.findUnique({ where: { id }, select: { email: true, username: true, bio: true, image: true } });
        if (!user) throw new HttpError(404, "user not found");
        return reply(res, 200, { user });
      }
      case "POST /articles": {
        const id = required(me);
        const input = wrapped(await readBody(req), "article");
        const title = text(input.title, "title");
        const tagList = input.tagList ?? [];
        if (!Array.isArray(tagList) || !tagList.every((t) => typeof t === "string" && t !== ""))
          throw new HttpError(422, "tagList must be a list of non-empty strings");
        const article = await db.article.create({
          data: {
            slug: slugify(title),
            title,
            description: text(input.description, "description"),
            body: text(input.body, "body"),
            author: { connect: { id } },
            tagList: { connectOrCreate: [...new Set(tagList as string[])].map((name) => ({ where: { name }, create: { name } })) },
          },
          include: articleInclude(id),
        });
        return reply(res, 201, { article: articleOf(article as ArticleRow) }, bumpHeader());
      }
      case "PUT /articles/:slug": {
        const id = required(me);
        const input = wrapped(await readBody(req), "article");
        const data: Prisma.ArticleUpdateInput = {};
        for (const field of ["title", "description", "body"] as const) if (input[field] !== undefined) data[field] = text(input[field], field);
        const article = await db.article.update({ where: { slug: param }, data, include: articleInclude(id) });
        return reply(res, 200, { article: articleOf(article as ArticleRow) }, bumpHeader());
      }
      case "POST /articles/:slug/favorite":
      case "DELETE /articles/:slug/favorite": {
        const id = required(me);
        const link = req.method === "POST" ? { connect: { id } } : { disconnect: { id } };
        const article = await db.article.update({ where: { slug: param }, data: { favoritedBy: link }, include: articleInclude(id) });
        return reply(res, 200, { article: articleOf(article as ArticleRow) }, bumpHeader());
      }
      case "POST /articles/:slug/comments": {
        const id = required(me);
        const input = wrapped(await readBody(req), "comment");
        const comment = await db.comment.create({
          data: { body: text(input.body, "body"), article: { connect: { slug: param } }, author: { connect: { id } } },
          include: { author: { select: profileSelect(id) } },
        });
        return reply(
          res,
          201,
          { comment: { id: comment.id, createdAt: comment.createdAt, body: comment.body, author: profileOf(comment.author) } },
          bumpHeader(),
        );
      }
      case "POST /profiles/:username/follow":
      case "DELETE /profiles/:username/follow": {
        const id = required(me);
        const link = req.method === "POST" ? { connect: { id } } : { disconnect: { id } };
        const user = await db.user.update({ where: { username: param }, data: { followedBy: link }, select: profileSelect(id) });
        return reply(res, 200, { profile: profileOf(user) }, bumpHeader());
      }
      case "GET /metrics":
        return api.metrics(res);
      default: // GET /health
        return reply(res, 200, { ok: true, cache: api.cached });
    }
  }
}

/** The `x-user-id` header as an id, or undefined without one. */
function currentUser(req: IncomingMessage): number | undefined {
  const header = req.headers[USER_HEADER];
  if (header === undefined) return undefined;
  const id = Number(header);
  if (typeof header !== "string" || !Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1)
    throw new HttpError(400, `${USER_HEADER} must be a positive 32-bit integer`);
  return id;
}

function required(me: number | undefined): number {
  if (me === undefined) throw new HttpError(401, `this route needs the current user (${USER_HEADER})`);
  return me;
}

/** A non-negative integer query parameter, or its default. */
function count(value: string | null, fallback: number, name: string): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (value === "" || !Number.isSafeInteger(n) || n < 0) throw new HttpError(422, `${name} must be a non-negative integer`);
  return n;
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new HttpError(422, `${field} must be a non-empty string`);
  return value;
}

/** `body[key]`, RealWorld's envelope (`{ "article": { ... } }`). */
function wrapped(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const inner = body[key];
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) throw new HttpError(422, `body must be { "${key}": { ... } }`);
  return inner as Record<string, unknown>;
}

/** A URL slug of a title: lower case, runs of other characters as one `-`. */
export function slugify(title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  if (slug === "") throw new HttpError(422, "title must contain a letter or a digit");
  return slug;
}

/** The status and body of a failed request: its HttpError, Prisma's not-found and unique-constraint errors, or 500. */
function failure(err: unknown): [number, { errors: { body: string[] } }] {
  const body = (message: string) => ({ errors: { body: [message] } });
  if (err instanceof HttpError) return [err.status, body(err.message)];
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2025") return [404, body("not found")];
    if (err.code === "P2002") return [422, body("slug has already been taken")];
  }
  console.error("[blog-api]", err);
  return [500, body("internal error")];
}
