/**
 * The server plumbing both HTTP examples (`../http-api`, `../blog-api`)
 * share, on `node:http`: the Prisma client with or without the cache, the
 * cache's counters on a Prometheus registry, one server span per request,
 * JSON bodies and answers, listening on 127.0.0.1 and closing. Each example
 * keeps its routes, its schema, its error bodies and the line that adds the
 * cache.
 *
 * **Reading your writes through another instance.** Behind a load balancer,
 * a client may write through one instance and read through another. That
 * instance's Redis reads see the write at once, but its in-process tier (L1)
 * hears of it over the pub/sub bus, usually within a Redis round trip. To
 * make the next read certain to see the write, a write's response carries
 * the bump it published, `x-cache-bump: <seq>:<instance>`
 * ({@link ApiClients.bumpHeader}). A read that sends it back as
 * `x-cache-after` first waits until its instance has applied that bump
 * (`prisma.$cache.delivered`, at most {@link DELIVERY_WAIT_MS}), and reads
 * the database directly if it was not applied in time
 * ({@link ApiClients.readerFor}).
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, trace } from "@opentelemetry/api";
import { Registry } from "prom-client";
import type { BumpId, CacheClientApi, RedisClient } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { registerCacheMetrics } from "../http-api/metrics";
import { exampleRedis } from "./redis";

/** Response header of a write: the bump it published, to send back as {@link AFTER_HEADER}. */
export const BUMP_HEADER = "x-cache-bump";
/** Request header of a read: a {@link BUMP_HEADER} value the read must see applied first. */
export const AFTER_HEADER = "x-cache-after";
/** How long a read waits for the bump of {@link AFTER_HEADER} before it reads the database directly. */
export const DELIVERY_WAIT_MS = 1_000;

const MAX_BODY = 64 * 1024;

/** Options of an example's start function (`startApi`, `startBlogApi`); `main.ts` reads them from the environment. */
export interface ApiOptions {
  /** Postgres URL of a database with the example's migrations applied. */
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
   * @default the example's: `http-api` for the HTTP API, the cache's own ("ptc") for the blog API
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

/** A listening instance of an API. */
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

/** An error answered with its status and a body of the example's (see {@link ServeOptions.failure}). */
export class HttpError extends Error {
  /**
   * @param status the HTTP status of the answer.
   * @param message what the answer's body says.
   */
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What {@link apiClients} needs of a Prisma client: a way to close it. */
export interface Closable {
  /** Closes its connections (with the cache, also the cache's). */
  $disconnect(): Promise<void>;
}

/** Options of {@link apiClients}. */
export interface ClientsOptions<Db> {
  /** The example's name (`http-api`): the prefix (`[name]`) of what it logs. */
  name: string;
  /** The plain client, on the example's database. */
  base: Db & Closable;
  /** Redis URL: the cache is on with one, off without. */
  redisUrl?: string;
  /** Extends {@link base} with the cache on `redis`: the example's one line with `prismaCache(...)`. */
  withCache(redis: RedisClient): Closable & { $cache: CacheClientApi };
}

/** The clients of one instance, and what the routes use of them. */
export interface ApiClients<Db> {
  /** The client the routes write through: the cached one (which answers their calls as the plain one does), or the plain one. */
  db: Db;
  /** Whether reads go through the cache. */
  cached: boolean;
  /** The client a read goes through: {@link db}, or the plain one beneath it when the `x-cache-after` bump is not applied in time. */
  readerFor(req: IncomingMessage): Promise<Db>;
  /** The `x-cache-bump` header of a write that just resolved: the last bump this instance published. */
  bumpHeader(): Record<string, string>;
  /** Answers `GET /metrics`: the cache's counters in the Prometheus text format (none without the cache). */
  metrics(res: ServerResponse): Promise<void>;
  /** Resolves once the cache hears other instances' bumps (at once without the cache). */
  ready(): Promise<void>;
  /** Closes the clients: the Prisma client, with the cache its pub/sub connection, and Redis. */
  disconnect(): Promise<void>;
}

/**
 * The clients of one instance: `base`, extended with the cache by
 * `withCache` when there is a `redisUrl`, and the cache's counters on a
 * registry of its own (`../http-api/metrics.ts`). Redis errors are logged;
 * reads go on to the database meanwhile.
 */
export function apiClients<Db>(options: ClientsOptions<Db>): ApiClients<Db> {
  const { base } = options;
  // ioredis, or the package REDIS_CLIENT names (node-redis: `redis`); errors are logged, reads go on to the database meanwhile.
  const redis = options.redisUrl ? exampleRedis(options.redisUrl, options.name) : undefined;
  const client = redis ? options.withCache(redis.client) : undefined;
  // The cached client answers the routes' calls exactly as the plain client does (the routes never pass its extra `cache` option).
  const db: Db = client ? (client as unknown as Db) : base;
  const cache = client?.$cache;
  const registry = new Registry();
  if (cache) registerCacheMetrics(cache, { registry });
  return {
    db,
    cached: cache !== undefined,
    async readerFor(req) {
      const after = req.headers[AFTER_HEADER];
      if (!cache || after === undefined) return db;
      const bump = typeof after === "string" ? parseBump(after) : undefined;
      if (!bump) throw new HttpError(400, `${AFTER_HEADER} must be a ${BUMP_HEADER} value`);
      if (bump.instance === cache.lastPublished()?.instance) return db; // this instance's own write: bumped here before it answered
      return cache.delivered(bump, { timeoutMs: DELIVERY_WAIT_MS }).then(
        () => db,
        () => base, // not applied in time: the database is current
      );
    },
    bumpHeader(): Record<string, string> {
      const bump = cache?.lastPublished();
      return bump ? { [BUMP_HEADER]: formatBump(bump) } : {};
    },
    async metrics(res) {
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(text);
    },
    ready: async () => {
      await cache?.ready();
    },
    async disconnect() {
      await (client ?? base).$disconnect(); // with the cache, also closes its pub/sub connection
      await redis?.close();
    },
  };
}

/** How an example answers a request: the route it names (the server span's name) and the handler that answers it. */
export interface Routed {
  /** The route, e.g. `GET /users/:id`: the name and `http.route` of the request's span. */
  route: string;
  /** Answers the request; called inside its span. A rejection is answered by {@link ServeOptions.failure}. */
  answer(): Promise<void>;
}

/** Options of {@link serveApi}. */
export interface ServeOptions {
  /** The example's name (`http-api`): its tracer's. */
  name: string;
  /**
   * TCP port on 127.0.0.1; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /** Routes a request (without answering it); what `answer` rejects with is answered by {@link failure}. */
  route(req: IncomingMessage, res: ServerResponse): Routed;
  /** The status and body of a failed request. */
  failure(err: unknown): [status: number, body: unknown];
}

/**
 * Serves an example's routes over `clients` on 127.0.0.1, with one server
 * span per request (what @opentelemetry/instrumentation-http makes in an
 * app: the cache's spans sit under it; without an OpenTelemetry SDK
 * registered, the API's tracer does nothing). Resolves once it listens and,
 * with the cache, once it hears other instances' bumps.
 * @throws if the port is taken; the clients are closed first.
 */
export async function serveApi(clients: ApiClients<unknown>, options: ServeOptions): Promise<RunningApi> {
  const tracer = trace.getTracer(options.name);
  const server = createServer((req, res) => {
    const routed = options.route(req, res);
    const { route } = routed;
    void tracer.startActiveSpan(route, { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "", "http.route": route } }, (span) =>
      routed
        .answer()
        .catch((err: unknown) => (res.headersSent ? res.destroy() : reply(res, ...options.failure(err))))
        .finally(() => {
          span.setAttribute("http.response.status_code", res.statusCode);
          span.end();
        }),
    );
  });
  try {
    await clients.ready();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await clients.disconnect();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cached: clients.cached,
    close: () =>
      (closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await clients.disconnect();
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

/**
 * The request's JSON object body (at most 64 KiB).
 * @throws an {@link HttpError}: 413 if larger, 400 if not a JSON object.
 */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
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

/** Answers `status` with `value` as JSON, and `headers`. */
export function reply(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json), ...headers });
  res.end(json);
}
