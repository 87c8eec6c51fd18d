/**
 * The HTTP API of the example, on `node:http`: a few routes over the test
 * schema, with prisma-tiered-cache applied to the Prisma client, and the
 * cache's counters on `GET /metrics` for Prometheus.
 *
 * | Route | What it does |
 * | --- | --- |
 * | `GET /users/:id` | `user.findUnique` by id (cached) |
 * | `GET /users?role=ADMIN` | `user.findMany` by role, at most 50, by id (cached; `role` optional) |
 * | `GET /posts/:id` | `post.findUnique` with its author (cached) |
 * | `PATCH /users/:id` | `user.update` of `name` and/or `role` (invalidates) |
 * | `POST /posts` | `post.create` from `title`, `content`, `published`, `authorId` (invalidates) |
 * | `GET /metrics` | the cache's counters in the Prometheus text format (see `metrics.ts`) |
 * | `GET /health` | `{ "ok": true, "cache": true }` |
 *
 * **Reading your writes through another instance.** A write's response
 * carries the bump it published, `x-cache-bump: <seq>:<instance>`; a read
 * that sends it back as `x-cache-after` first waits until its instance has
 * applied that bump (at most {@link DELIVERY_WAIT_MS}), and reads the
 * database directly if it was not applied in time. That plumbing, and the
 * rest the blog API shares with this one (clients, metrics, spans, JSON
 * bodies, listening), is in `../shared/http.ts`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient, Role } from "../../generated/prisma/client";
import { prismaCache } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { type ApiClients, type ApiOptions, apiClients, HttpError, type RunningApi, readBody, reply, serveApi } from "../shared/http";

export { AFTER_HEADER, type ApiOptions, BUMP_HEADER, DELIVERY_WAIT_MS, formatBump, parseBump, type RunningApi } from "../shared/http";

const ROLES = new Set<string>(Object.values(Role));

/**
 * The client the routes use. With the cache, the cached client, which answers
 * these calls exactly as the plain client does (the routes never pass its
 * extra `cache` option); without, the plain client.
 */
type Db = Pick<PrismaClient, "user" | "post">;

/**
 * Starts one instance: a Prisma client on `databaseUrl` (through
 * @prisma/adapter-pg), with `prismaCache({ redis, ttl, namespace })` unless
 * `cache` is false (namespace `http-api` by default), and an HTTP server on
 * 127.0.0.1. Resolves once it listens and, with the cache, once it hears
 * other instances' bumps.
 * @throws if `cache` is on and there is no `redisUrl`, or if the port is taken.
 */
export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const cached = options.cache ?? true;
  if (cached && !options.redisUrl) throw new Error("startApi: redisUrl is required with the cache (or pass cache: false)");
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: options.databaseUrl }) });
  const api = apiClients<Db>({
    name: "http-api",
    base,
    redisUrl: cached ? options.redisUrl : undefined,
    withCache: (redis) =>
      base.$extends(prismaCache({ redis, ttl: options.ttl ?? 60, namespace: options.namespace ?? "http-api", heartbeat: options.heartbeat })),
  });
  return serveApi(api, {
    name: "http-api",
    port: options.port,
    route: (req, res) => ({
      route: `${req.method} ${(req.url ?? "/").split("?")[0]!.replace(/\/\d+$/, "/:id")}`,
      answer: () => handle(api, req, res),
    }),
    failure,
  });
}

/** Answers one request through `api`'s clients. */
async function handle(api: ApiClients<Db>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const route = `${req.method} ${url.pathname.replace(/\/\d+$/, "/:id")}`;
  const id = () => parseId(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
  const { db } = api;
  switch (route) {
    case "GET /users/:id": {
      const reader = await api.readerFor(req);
      return found(res, await reader.user.findUnique({ where: { id: id() } }));
    }
    case "GET /users": {
      const role = url.searchParams.get("role");
      if (role !== null && !ROLES.has(role)) throw new HttpError(400, `role must be one of ${[...ROLES].join(", ")}`);
      const reader = await api.readerFor(req);
      return reply(res, 200, await reader.user.findMany({ where: role ? { role: role as Role } : {}, orderBy: { id: "asc" }, take: 50 }));
    }
    case "GET /posts/:id": {
      const reader = await api.readerFor(req);
      return found(res, await reader.post.findUnique({ where: { id: id() }, include: { author: true } }));
    }
    case "PATCH /users/:id": {
      const body = await readBody(req);
      const data: Prisma.UserUpdateInput = {};
      if ("name" in body) data.name = optionalString(body.name, "name");
      if ("role" in body) {
        if (typeof body.role !== "string" || !ROLES.has(body.role)) throw new HttpError(400, `role must be one of ${[...ROLES].join(", ")}`);
        data.role = body.role as Role;
      }
      const user = await db.user.update({ where: { id: id() }, data });
      return reply(res, 200, user, api.bumpHeader());
    }
    case "POST /posts": {
      const body = await readBody(req);
      if (typeof body.title !== "string" || body.title === "") throw new HttpError(400, "title must be a non-empty string");
      if ("published" in body && typeof body.published !== "boolean") throw new HttpError(400, "published must be a boolean");
      const authorId = body.authorId ?? null;
      if (authorId !== null && !Number.isSafeInteger(authorId)) throw new HttpError(400, "authorId must be an integer or null");
      const post = await db.post.create({
        data: {
          title: body.title,
          content: optionalString(body.content, "content") ?? null,
          published: body.published === true,
          authorId: authorId as number | null,
        },
      });
      return reply(res, 201, post, api.bumpHeader());
    }
    case "GET /metrics":
      return api.metrics(res);
    case "GET /health":
      return reply(res, 200, { ok: true, cache: api.cached });
    default:
      throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  }
}

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1) throw new HttpError(400, "id must be a positive 32-bit integer");
  return id;
}

function optionalString(value: unknown, field: string): string | null | undefined {
  if (value === undefined || value === null || typeof value === "string") return value;
  throw new HttpError(400, `${field} must be a string or null`);
}

function found(res: ServerResponse, value: unknown): void {
  if (value === null) throw new HttpError(404, "not found");
  reply(res, 200, value);
}

/** The status and body of a failed request: its HttpError, Prisma's not-found and foreign-key errors, or 500. */
function failure(err: unknown): [number, { error: string }] {
  if (err instanceof HttpError) return [err.status, { error: err.message }];
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2025") return [404, { error: "not found" }];
    if (err.code === "P2003") return [400, { error: "a referenced row does not exist" }];
  }
  console.error("[http-api]", err);
  return [500, { error: "internal error" }];
}
