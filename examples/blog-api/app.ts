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
 * example (`../http-api/app.ts`): a write's answer carries `x-cache-bump`,
 * and a read that sends it back as `x-cache-after` waits until its instance
 * has applied that bump (at most {@link DELIVERY_WAIT_MS}), or reads the
 * database if it was not applied in time.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, trace } from "@opentelemetry/api";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { Prisma, PrismaClient } from "../../generated/blog/client";
import { type BumpId, prismaCache } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { registerCacheMetrics } from "../http-api/metrics";

/** Request header: the current user's id. */
export const USER_HEADER = "x-user-id";
/** Response header of a write: the bump it published, to send back as {@link AFTER_HEADER}. */
export const BUMP_HEADER = "x-cache-bump";
/** Request header of a read: a {@link BUMP_HEADER} value the read must see applied first. */
export const AFTER_HEADER = "x-cache-after";
/** How long a read waits for the bump of {@link AFTER_HEADER} before it reads the database directly. */
export const DELIVERY_WAIT_MS = 1_000;
/** What an instance started by `main.ts` prints once it serves, followed by its URL. */
export const LISTENING = "blog-api listening on ";

const MAX_BODY = 64 * 1024;
const MAX_LIMIT = 100;

/** Options of {@link startBlogApi}. */
export interface BlogApiOptions {
  /** Postgres URL of a database with the blog migrations applied (`database.ts`). */
  databaseUrl: string;
  /** Redis URL, shared by every instance. Required with the cache. */
  redisUrl?: string;
  /**
   * TCP port on 127.0.0.1; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * `false` serves every route through the plain PrismaClient, with no cache (for comparisons).
   * @default true
   */
  cache?: boolean;
  /**
   * The cache's Redis namespace. Instances that share data share it.
   * @default the cache's default ("ptc")
   */
  namespace?: string;
  /**
   * Seconds a cached read stays fresh.
   * @default 60
   */
  ttl?: number;
  /**
   * The cache's `heartbeat` (ms): raise it where the event loop can lag for long.
   * @default the cache's default (1000)
   */
  heartbeat?: number;
}

/** A listening instance of the API. */
export interface RunningBlogApi {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Whether reads go through the cache. */
  cached: boolean;
  /** Stops listening, closes open connections, the Prisma client, the cache and Redis. */
  close(): Promise<void>;
}

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

/** An error answered with its status and RealWorld's `{ "errors": { "body": [message] } }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
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
  const redis = cached ? new Redis(options.redisUrl!) : undefined;
  redis?.on("error", (err: Error) => console.error(`[blog-api] redis: ${err.message}`)); // reads go on to the database meanwhile
  // The one line: the rest of the app is the same with or without it.
  const client = redis ? base.$extends(prismaCache({ redis, ttl: options.ttl ?? 60, namespace: options.namespace, heartbeat: options.heartbeat })) : undefined;
  const db: Db = client ? (client as unknown as Db) : base;
  const cache = client?.$cache;
  const registry = new Registry();
  if (cache) registerCacheMetrics(cache, { registry });

  // One server span per request, as in the HTTP API example; without an OpenTelemetry SDK, nothing happens.
  const tracer = trace.getTracer("blog-api");
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let matched: { route: string; param: string } | undefined;
    let unmatched: unknown;
    try {
      matched = routeOf(req.method, url.pathname);
    } catch (err) {
      unmatched = err;
    }
    const name = matched?.route ?? `${req.method} (no route)`;
    void tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "", "http.route": name } }, (span) =>
      (matched ? handle(req, res, url, matched.route, matched.param) : Promise.reject(unmatched))
        .catch((err: unknown) => (res.headersSent ? res.destroy() : reply(res, ...failure(err))))
        .finally(() => {
          span.setAttribute("http.response.status_code", res.statusCode);
          span.end();
        }),
    );
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
      case "GET /metrics": {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(text);
        return;
      }
      default: // GET /health
        return reply(res, 200, { ok: true, cache: cached });
    }
  }

  /** The client a read goes through: the cached one, or the plain one beneath it when the `x-cache-after` bump is not applied in time. */
  async function readerFor(req: IncomingMessage): Promise<Db> {
    const after = req.headers[AFTER_HEADER];
    if (!cache || after === undefined) return db;
    const bump = typeof after === "string" ? parseBump(after) : undefined;
    if (!bump) throw new HttpError(400, `${AFTER_HEADER} must be a ${BUMP_HEADER} value`);
    if (bump.instance === cache.lastPublished()?.instance) return db; // this instance's own write: bumped here before it answered
    return cache.delivered(bump, { timeoutMs: DELIVERY_WAIT_MS }).then(
      () => db,
      () => base, // not applied in time: the database is current
    );
  }

  /** The `x-cache-bump` header of a write that just resolved: the last bump this instance published. */
  function bumpHeader(): Record<string, string> {
    const bump = cache?.lastPublished();
    return bump ? { [BUMP_HEADER]: formatBump(bump) } : {};
  }

  const disconnect = async () => {
    await (client ?? base).$disconnect(); // with the cache, also closes its pub/sub connection
    if (redis) await redis.quit().catch(() => redis.disconnect());
  };
  try {
    await cache?.ready();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await disconnect();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cached,
    close: () =>
      (closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await disconnect();
      })()),
  };
}

/** Formats a bump as `<seq>:<instance>`. */
export function formatBump(bump: BumpId): string {
  return `${bump.seq}:${bump.instance}`;
}

/** Parses `<seq>:<instance>`; undefined if malformed. */
export function parseBump(text: string): BumpId | undefined {
  const m = /^(\d{1,15}):(.+)$/.exec(text);
  return m ? { seq: Number(m[1]), instance: m[2]! } : undefined;
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

/** The request's JSON object body (at most 64 KiB). */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
  return body as Record<string, unknown>;
}

function reply(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json), ...headers });
  res.end(json);
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
