/**
 * prisma-tiered-cache: a two-tier (in-process LRU + Redis) query cache for Prisma 7.
 * @packageDocumentation
 */
export { prismaCache } from "./prisma/extension.js";
export { cacheNeutral, cacheScope } from "./prisma/declare.js";
export type { CacheScope, ScopeSource } from "./prisma/declare.js";
export { CACHED_READ_OPERATIONS } from "./prisma/profile.js";
export type { BypassReason } from "./prisma/profile.js";
export type { BumpId } from "./coherence/message.js";
export type {
  CacheArgs,
  CacheClientApi,
  CacheExtension,
  CachedFluentApi,
  CachedFluentResult,
  CachedPromise,
  CachedReadMethods,
  RawQueryMethod,
} from "./prisma/types.js";
export type { CacheInfo } from "./engine/info.js";
export type { CacheExplanation, CacheTier } from "./engine/explain.js";
export type { CacheStatus } from "./engine/request.js";
export type { WarmError, WarmOptions, WarmProgress, WarmSummary } from "./engine/warm.js";
export type {
  CacheOptions,
  CacheStrategy,
  ChangeFeedOptions,
  L1Options,
  ModelCacheOptions,
  QueryCacheOption,
  RawCacheOptions,
  RedisClient,
  IoRedisLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  WarmStartOptions,
  WrapOptions,
} from "./options.js";
export { BusDeliveryError, CacheError, CacheConfigError, CacheUsageError, FeedSetupError, RedisTimeoutError } from "./errors.js";
export type { CacheErrorCode, ConfigIssue } from "./errors.js";
export type { CacheStats, OperationStats } from "./stats.js";
export type { CacheEvent, L1FlushReason } from "./events.js";
export type { FeedStats, FeedStatus } from "./feed/consumer.js";
export type { BusResetReason } from "./coherence/message.js";
