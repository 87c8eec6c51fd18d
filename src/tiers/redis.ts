/**
 * L2: Redis through ioredis. One round trip per read (MGET of the entry and
 * its dependency versions), a compare-and-set fill script, and a bump script.
 * Every command has a timeout, and a circuit breaker skips Redis for a
 * cool-down after repeated failures.
 * @module
 */
import { randomInt } from "node:crypto";
import type { RedisClient } from "../config.js";
import { BUMP, FILL, runScript } from "./scripts.js";

const FORMAT = "ptc1";

/** What a read found in Redis. */
export interface L2ReadResult {
  /** The encoded value, when the entry exists, is fresh, and its versions match. */
  body: string | undefined;
  /** Epoch ms until which `body` is fresh. */
  freshUntil: number;
  /** Versions of the dependencies as read ("" = absent), the snapshot for a later fill. */
  versions: string[];
}

/** Settings of the Redis tier. */
export interface RedisTierOptions {
  namespace: string;
  timeoutMs: number;
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** Milliseconds the circuit stays open. */
  cooldownMs?: number;
  /** Called on every failed or timed-out command. */
  onError?: (err: unknown) => void;
}

class TimeoutError extends Error {}

/** The Redis tier. */
export class RedisTier {
  private failures = 0;
  private openUntil = 0;
  private readonly threshold: number;
  private readonly cooldownMs: number;

  constructor(
    readonly redis: RedisClient,
    private readonly options: RedisTierOptions,
  ) {
    this.threshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 5_000;
  }

  /** Redis key of a cache entry. */
  entryKey(id: string): string {
    return `${this.options.namespace}:e:${id}`;
  }

  /** Redis key of a dependency's version counter. */
  versionKey(dep: string): string {
    return `${this.options.namespace}:v:${dep}`;
  }

  /** Whether the circuit is closed (Redis is worth trying). */
  get available(): boolean {
    return this.openUntil === 0 || Date.now() >= this.openUntil;
  }

  /** Reads an entry and the current versions of its dependencies in one round trip. */
  async read(id: string, deps: readonly string[], now: number): Promise<L2ReadResult | undefined> {
    const keys = [this.entryKey(id)];
    for (const d of deps) keys.push(this.versionKey(d));
    const res = await this.call(() => this.redis.mget(...keys));
    if (!res) return undefined;
    const versions = new Array<string>(deps.length);
    for (let i = 0; i < deps.length; i++) versions[i] = res[i + 1] ?? "";
    const raw = res[0];
    if (raw == null) return { body: undefined, freshUntil: 0, versions };
    // ptc1|<freshUntil>|<v1,v2,...>|<body>
    const a = raw.indexOf("|");
    const b = raw.indexOf("|", a + 1);
    const c = raw.indexOf("|", b + 1);
    const freshUntil = Number(raw.slice(a + 1, b));
    const usable = a > 0 && b > a && c > b && raw.slice(0, a) === FORMAT && now < freshUntil && raw.slice(b + 1, c) === versions.join(",");
    return usable ? { body: raw.slice(c + 1), freshUntil, versions } : { body: undefined, freshUntil: 0, versions };
  }

  /**
   * Stores an entry unless a dependency moved since `versions` was read.
   * Resolves true when stored, false when refused, undefined when Redis failed.
   */
  async fill(
    id: string,
    deps: readonly string[],
    versions: readonly string[],
    body: string,
    freshUntil: number,
    keepMs: number,
  ): Promise<boolean | undefined> {
    const keys = [this.entryKey(id)];
    for (const d of deps) keys.push(this.versionKey(d));
    const base = String(2 ** 40 + randomInt(2 ** 47));
    const args = [Math.max(1, Math.ceil(keepMs)), `${FORMAT}|${freshUntil}|`, body, base, ...versions];
    const r = await this.call(() => runScript(this.redis, FILL, keys, args));
    return r === undefined ? undefined : r === 1;
  }

  /** Bumps the version counters of `deps`. Resolves false if Redis failed. */
  async bump(deps: readonly string[]): Promise<boolean> {
    if (deps.length === 0) return true;
    const r = await this.call(() => runScript(this.redis, BUMP, deps.map((d) => this.versionKey(d)), []), true);
    return r !== undefined;
  }

  /** Deletes an entry (used for corrupt values). Errors are ignored. */
  async remove(id: string): Promise<void> {
    await this.call(() => this.redis.del(this.entryKey(id)));
  }

  /**
   * Runs one command with a timeout. Failures are counted, reported, and
   * resolve to undefined. `force` tries even while the circuit is open.
   */
  private async call<T>(fn: () => Promise<T>, force = false): Promise<T | undefined> {
    if (!force && !this.available) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`Redis command timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
        }),
      ]);
      this.failures = 0;
      this.openUntil = 0;
      return result;
    } catch (err) {
      this.failures++;
      if (this.failures >= this.threshold) this.openUntil = Date.now() + this.cooldownMs;
      this.options.onError?.(err);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
