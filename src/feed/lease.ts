/**
 * The change feed's lease: one consumer per namespace. A process takes it
 * with a fencing token (a counter that grows with each new holder), renews
 * it while it consumes, and gives it up on close; when its holder dies, it
 * lapses after `ttlMs` and another process takes it. Positions the consumer
 * keeps (the binlog's) are stored only under the current token, so a
 * holder that lost the lease without knowing cannot move the position back.
 * Without Redis the lease is this process's alone.
 * @module
 */
import type { RedisConnection } from "../redis/client.js";
import { script, whenConnected } from "../tiers/commands.js";

/** KEYS[1] lease, KEYS[2] fence counter; ARGV[1] owner, ARGV[2] ttl. Returns the token, or 0 when another owner holds it. */
const ACQUIRE = script(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local owner, token = string.match(cur, '^(.*)|(%d+)$')
  if owner ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
`);

/** KEYS[1] lease; ARGV[1] owner|token. Deletes the lease if it is still that holder's. */
const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS[1] lease, KEYS[2] position; ARGV[1] owner|token, ARGV[2] position. Stores it only under the current holder. */
const SAVE = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`);

/** Settings of a {@link FeedLease}. */
export interface FeedLeaseOptions {
  /** The app's Redis client; undefined: the lease is this process's alone. */
  readonly redis: RedisConnection | undefined;
  /** Key prefix of the namespace: the keys are `<prefix>:feed:lease`, `:feed:fence`, `:feed:position`. */
  readonly prefix: string;
  /** This process's name for the lease. */
  readonly owner: string;
  /** How long the lease lives without renewal. */
  readonly ttlMs: number;
  /** Timeout of each Redis command. */
  readonly timeoutMs: number;
}

/** One process's hold on the feed of a namespace. */
export class FeedLease {
  /** The fencing token while held (0: not held). */
  token = 0;
  private position: string | undefined;
  private readonly keys: { lease: string; fence: string; position: string };

  constructor(private readonly o: FeedLeaseOptions) {
    // One hash tag: on a Cluster the three keys share a slot, and each script touches one.
    const tag = o.prefix.startsWith("{") ? o.prefix : `{${o.prefix}}`;
    this.keys = { lease: `${tag}:feed:lease`, fence: `${tag}:feed:fence`, position: `${tag}:feed:position` };
  }

  private get value(): string {
    return `${this.o.owner}|${this.token}`;
  }

  /** Takes the lease, or renews it. Resolves to whether this process holds it now. */
  async acquire(): Promise<boolean> {
    const redis = this.o.redis;
    if (!redis) {
      this.token ||= 1;
      return true;
    }
    const reply = await whenConnected(
      redis,
      () => redis.script(ACQUIRE, [this.keys.lease, this.keys.fence], [this.o.owner, this.o.ttlMs]),
      this.o.timeoutMs,
      "EVALSHA",
    );
    this.token = Number(reply) || 0;
    return this.token > 0;
  }

  /** Gives the lease up at once (if still held), so that another process takes over without waiting for it to lapse. Never rejects. */
  async release(): Promise<void> {
    const redis = this.o.redis;
    const held = this.value;
    this.token = 0;
    if (!redis) return;
    await whenConnected(redis, () => redis.script(RELEASE, [this.keys.lease], [held]), this.o.timeoutMs, "EVALSHA").catch(() => undefined);
  }

  /** The position last stored ({@link save}), or undefined. */
  async load(): Promise<string | undefined> {
    const redis = this.o.redis;
    if (!redis) return this.position;
    const v = await whenConnected(redis, () => redis.get(this.keys.position), this.o.timeoutMs, "GET");
    return v ?? undefined;
  }

  /** Stores the acknowledged `position`, only while this process holds the lease. Resolves to whether it was stored. */
  async save(position: string): Promise<boolean> {
    const redis = this.o.redis;
    if (!redis) {
      this.position = position;
      return true;
    }
    const reply = await whenConnected(
      redis,
      () => redis.script(SAVE, [this.keys.lease, this.keys.position], [this.value, position]),
      this.o.timeoutMs,
      "EVALSHA",
    );
    return reply === 1;
  }
}
