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
 * **Reading your writes through another instance.** Behind a load balancer,
 * a client may write through one instance and read through another. That
 * instance's Redis reads see the write at once, but its in-process tier (L1)
 * hears of it over the pub/sub bus, usually within a Redis round trip. To
 * make the next read certain to see the write, a write's response carries
 * the bump it published, `x-cache-bump: <seq>:<instance>`. A read that sends
 * it back as `x-cache-after` first waits until its instance has applied that
 * bump (`prisma.$cache.delivered`, at most {@link DELIVERY_WAIT_MS}), and
 * reads the database directly if it was not applied in time.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { SpanKind, trace } from "@opentelemetry/api";
import type { AddressInfo } from "node:net";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { Prisma, PrismaClient, Role } from "../../generated/prisma/client";
import { prismaCache, type BumpId } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { registerCacheMetrics } from "./metrics";

/** Response header of a write: the bump it published, to send back as {@link AFTER_HEADER}. */
export const BUMP_HEADER = "x-cache-bump";
/** Request header of a read: a {@link BUMP_HEADER} value the read must see applied first. */
export const AFTER_HEADER = "x-cache-after";
/** How long a read waits for the bump of {@link AFTER_HEADER} before it reads the database directly. */
export const DELIVERY_WAIT_MS = 1_000;

/** What an instance started by `main.ts` prints once it serves, followed by its URL. */
export const LISTENING = "http-api listening on ";

const MAX_BODY = 64 * 1024;
const ROLES = new Set<string>(Object.values(Role));

/** Options of {@link startApi}. */
export interface ApiOptions {
  /** Postgres URL of a database with the committed migrations applied. */
  databaseUrl: string;
  /** Redis URL, shared by every instance. Required with the cache. */
  redisUrl?: string;
  /**
   * TCP port on 127.0.0.1; 0 picks a free one (see {@link RunningApi.port}).
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
   * @default "http-api"
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
export interface RunningApi {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Whether reads go through the cache. */
  cached: boolean;
  /** Stops listening, closes open connections, the Prisma client, the cache and Redis. */
  close(): Promise<void>;
}

/** An error answered with its status and `{ "error": message }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The client the routes use. With the cache, the cached client, which answers
 * these calls exactly as the plain client does (the routes never pass its
 * extra `cache` option); without, the plain client.
 */
type Db = Pick<PrismaClient, "user" | "post">;

/**
 * Starts one instance: a Prisma client on `databaseUrl` (through
 * @prisma/adapter-pg), with `prismaCache({ redis, ttl, namespace })` unless
 * `cache` is false, and an HTTP server on 127.0.0.1. Resolves once it listens
 * and, with the cache, once it hears other instances' bumps.
 * @throws if `cache` is on and there is no `redisUrl`, or if the port is taken.
 */
export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const cached = options.cache ?? true;
  if (cached && !options.redisUrl) throw new Error("startApi: redisUrl is required with the cache (or pass cache: false)");
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: options.databaseUrl }) });
  const redis = cached ? new Redis(options.redisUrl!) : undefined;
  redis?.on("error", (err: Error) => console.error(`[http-api] redis: ${err.message}`)); // reads go on to the database meanwhile
  const client = redis
    ? base.$extends(prismaCache({ redis, ttl: options.ttl ?? 60, namespace: options.namespace ?? "http-api", heartbeat: options.heartbeat }))
    : undefined;
  const db: Db = client ? (client as unknown as Db) : base;
  const cache = client?.$cache;
  const registry = new Registry();
  if (cache) registerCacheMetrics(cache, { registry });

  // One server span per request (what @opentelemetry/instrumentation-http makes in an app): the cache's spans sit under it.
  // Without an OpenTelemetry SDK registered, the API's tracer does nothing.
  const tracer = trace.getTracer("http-api");
  const server = createServer((req, res) => {
    const route = `${req.method} ${(req.url ?? "/").split("?")[0]!.replace(/\/\d+$/, "/:id")}`;
    void tracer.startActiveSpan(route, { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "", "http.route": route } }, (span) =>
      handle(req, res)
        .catch((err: unknown) => (res.headersSent ? res.destroy() : reply(res, ...failure(err))))
        .finally(() => {
          span.setAttribute("http.response.status_code", res.statusCode);
          span.end();
        }),
    );
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = `${req.method} ${url.pathname.replace(/\/\d+$/, "/:id")}`;
    const id = () => parseId(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
    switch (route) {
      case "GET /users/:id": {
        const reader = await readerFor(req);
        return found(res, await reader.user.findUnique({ where: { id: id() } }));
      }
      case "GET /users": {
        const role = url.searchParams.get("role");
        if (role !== null && !ROLES.has(role)) throw new HttpError(400, `role must be one of ${[...ROLES].join(", ")}`);
        const reader = await readerFor(req);
        return reply(res, 200, await reader.user.findMany({ where: role ? { role: role as Role } : {}, orderBy: { id: "asc" }, take: 50 }));
      }
      case "GET /posts/:id": {
        const reader = await readerFor(req);
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
        return reply(res, 200, user, bumpHeader());
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
        return reply(res, 201, post, bumpHeader());
      }
      case "GET /metrics": {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(text);
        return;
      }
      case "GET /health":
        return reply(res, 200, { ok: true, cache: cached });
      default:
        throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
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

  /** Closes the clients (the server is closed or never listened). */
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

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1) throw new HttpError(400, "id must be a positive 32-bit integer");
  return id;
}

function optionalString(value: unknown, field: string): string | null | undefined {
  if (value === undefined || value === null || typeof value === "string") return value;
  throw new HttpError(400, `${field} must be a string or null`);
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
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
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
