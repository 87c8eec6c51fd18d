/**
 * `prismaCache(options)`: the one `Prisma.defineExtension` of the library.
 * It probes Prisma's internals, builds the runtime, and composes the model
 * (model.ts), query (query.ts) and client (client.ts) components into one
 * extension that keeps itself the outermost layer of every client derived
 * from the one it is applied to.
 * @module
 */
import { Prisma } from "@prisma/client/extension";
import { resolveOptions } from "../config.js";
import type { CacheOptions } from "../options.js";
import { CacheConfigError } from "../errors.js";
import { DatabaseIdentity } from "../identity.js";
import { canonicalize } from "../keys.js";
import { CacheRuntime } from "../runtime.js";
import { createClientComponent } from "./client.js";
import {
  activeProvider,
  adapterSchema,
  extensionHead,
  extensionList,
  globalOmit,
  inlineSchema,
  probeInternals,
  runtimeDataModel,
  type MissingInternal,
} from "./internals.js";
import { createReadMethods } from "./model.js";
import { markCacheLayer, Profiler } from "./profile.js";
import { createQueryHooks, createWriteRunner, type Transactions } from "./query.js";
import { createWriteMethods } from "./write-methods.js";
import type { CacheExtension, CachedReadMethods } from "./types.js";
import { usePrismaDecimal } from "./decimal.js";
import { rereadThrough } from "./warm.js";

function createExtension(runtime: CacheRuntime, base: unknown, missing: readonly MissingInternal[]) {
  const blind = missing.find((m) => m.name === "_extensions" || m.name === "_globalOmit");
  const profiler = new Profiler(extensionHead(base), runtime.options.scope, blind && `Prisma internal ${blind.name} (missing in this Prisma version)`);
  /**
   * Whether every client of this cache (the one it was applied to, and each
   * one derived from it with `$extends`) is bare: nothing beneath the cache
   * changes results (profile.ts). The write runner does not tell which
   * client wrote, so write-through stops for good once one is not bare.
   */
  let everyClientBare = true;
  const openTransactions: Transactions = new Map();
  const runner = createWriteRunner(runtime, openTransactions, () => everyClientBare);
  // Writes are model methods too (typed as Prisma's own): a write skips Prisma's query-extension pipeline on this layer.
  const methods = { ...createWriteMethods(runner, runtime.graph), ...createReadMethods(runtime, profiler) };
  const extension = {
    name: "prisma-tiered-cache",
    model: { $allModels: methods as unknown as CachedReadMethods },
    query: createQueryHooks(runner),
    client: createClientComponent(runtime, base, profiler, openTransactions),
  };
  markCacheLayer(extension);
  /** Called with the cache's first client and each client derived from it. */
  const onClient = (client: unknown): void => {
    if (everyClientBare && !profiler.ofList(extensionList(client)).bare) everyClientBare = false;
  };
  return { extension, onClient };
}

type Extendable = { $extends: (ext: unknown) => unknown };

/**
 * Keeps the cache the outermost layer of `extended` (= `base` + cache):
 * extensions chained after it are applied beneath it, so their query hooks
 * and computed fields run on cache misses and are part of what is cached.
 */
function keepOutermost(extended: Extendable, base: Extendable, extension: object, onClient: (client: Extendable) => void): void {
  onClient(extended);
  extended.$extends = (next: unknown) => {
    const below = base.$extends(next) as Extendable;
    const again = below.$extends(extension) as Extendable;
    keepOutermost(again, below, extension, onClient);
    return again;
  };
}

/**
 * Creates the tiered cache extension. Options are validated here, once.
 *
 * @example
 * const prisma = new PrismaClient({ adapter }).$extends(prismaCache({ redis: new Redis(url), ttl: 60 }));
 * await prisma.post.findMany({ where: { published: true }, cache: { ttl: 10, tags: ["feed"] } });
 * await prisma.$cache.invalidate({ tags: ["feed"] });
 *
 * @throws {CacheConfigError} listing every invalid option.
 */
export function prismaCache(options: CacheOptions = {}): CacheExtension {
  const resolved = resolveOptions(options);
  usePrismaDecimal();
  const extension = Prisma.defineExtension((client) => {
    const missing = probeInternals(client);
    const required = missing.filter((m) => m.required);
    if (required.length) throw new CacheConfigError(required.map((m) => ({ path: "(client)", message: `Prisma internal ${m.name} is missing: ${m.effect}` })));
    const dataModel = runtimeDataModel(client)!;
    // With Redis, entries are keyed by the database they were read from (see identity.ts).
    let report: (error: unknown) => void = () => undefined;
    const identity = resolved.redis
      ? new DatabaseIdentity(
          activeProvider(client),
          (sql) =>
            (client as unknown as { $queryRawUnsafe(q: string): Promise<unknown> }).$queryRawUnsafe(`/* prisma-tiered-cache: database fingerprint */ ${sql}`),
          (error) => report(error),
          adapterSchema(client),
        )
      : undefined;
    const runtime = new CacheRuntime(resolved, dataModel, inlineSchema(client), canonicalize(globalOmit(client) ?? null), identity, activeProvider(client));
    report = (error) => runtime.events.emit({ type: "fingerprint-error", error });
    for (const m of missing) if (!m.required) runtime.events.degrade({ type: "degraded", internal: m.name, effect: m.effect });
    const { extension, onClient } = createExtension(runtime, client, missing);
    const extended = client.$extends(extension);
    runtime.reread = rereadThrough(extended);
    keepOutermost(extended as unknown as Extendable, client as unknown as Extendable, extension, onClient);
    return extended;
  });
  return extension as unknown as CacheExtension;
}
