/**
 * An in-process fake of the part of an ioredis client the Redis tier, the
 * bus, the lease and the subscriptions use (through the adapter the cache
 * picks for it, src/redis/ioredis.ts: {@link FakeRedis.connection}), for unit
 * tests of their state machines (the integration suites run them on real
 * Redis, with every client family). Its behaviour is scripted by the test,
 * so that every run is the same:
 *
 * - a {@link FakeServer} holds the keys (GET, SET with PX/NX/XX, PTTL, DEL),
 *   the pub/sub channels and the Lua scripts, each stubbed by a handler that
 *   does what the script does (EVALSHA answers NOSCRIPT until EVAL loaded the
 *   script, as a fresh Redis does);
 * - a {@link FakeRedis} is one connection to it: its `status` and its
 *   "ready", "close", "end", "error" and "message" events are driven by the
 *   test ({@link FakeRedis.ready}, {@link FakeRedis.lose});
 * - {@link FakeRedis.failNext} makes the next commands fail, and
 *   {@link FakeRedis.hang} holds one until the test releases it (a command
 *   that outlives its deadline, a reply that comes late), and
 *   {@link FakeRedis.lagNext} runs one at once but hands its reply over
 *   later (a client whose event loop is busy).
 *
 * Keys expire by `Date.now()`, so `vi.useFakeTimers()` moves them too.
 * Messages are delivered in a microtask after PUBLISH, in order.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { RedisClient } from "../../src/options.js";
import type { RedisConnection, Script } from "../../src/redis/client.js";
import { connectionOf } from "../../src/redis/detect.js";

/** What a stubbed script does: its KEYS and ARGV (as strings, as Redis gets them), on the server it runs on. */
export type ScriptHandler = (keys: string[], args: string[], server: FakeServer) => unknown;

/** One command sent on a connection, as the test sees it afterwards. */
export interface SentCommand {
  /** The ioredis method, lower case: `get`, `set`, `evalsha`, `eval`, `subscribe`, ... */
  readonly name: string;
  readonly args: readonly unknown[];
}

/** A script run (by EVALSHA or EVAL) with its KEYS and ARGV. */
export interface ScriptRun {
  readonly name: "evalsha" | "eval";
  readonly keys: string[];
  readonly args: string[];
}

/** Which commands an injected failure or hang applies to: every command, one name, or a test of the name. */
export type CommandMatch = string | RegExp | ((name: string) => boolean) | undefined;

/** A command the fake holds until the test lets it go. */
export interface HeldCommand {
  readonly name: string;
  readonly args: readonly unknown[];
  /** Runs the command now and delivers its reply (or its error). */
  release(): void;
  /** Delivers `err` instead of running the command. */
  fail(err?: Error): void;
}

interface Rule {
  readonly match: (name: string) => boolean;
  remaining: number;
  readonly kind: "fail" | "hang" | "lag";
  readonly error: Error;
  /** For "lag": ms (of `setTimeout`'s clock) between the command's run and its reply's delivery. */
  readonly ms?: number;
}

interface Stored {
  value: string;
  /** Epoch ms when the key goes (undefined: never). */
  expiresAt: number | undefined;
}

const sha1 = (source: string): string => createHash("sha1").update(source).digest("hex");

/** The Redis server behind one or more {@link FakeRedis} connections. */
export class FakeServer {
  private readonly keys = new Map<string, Stored>();
  private readonly subscribers = new Map<string, Set<FakeRedis>>();
  private readonly scripts: Array<{ matches: (source: string) => boolean; handler: ScriptHandler }> = [];
  private readonly loaded = new Map<string, ScriptHandler>();

  /**
   * Stubs a script: `script` is one of the project's scripts (then it is
   * known to the server from the start, as after an earlier EVAL), or text
   * or a pattern its source contains (then the first EVALSHA answers
   * NOSCRIPT and the caller's EVAL loads it).
   */
  script(script: Script | string | RegExp, handler: ScriptHandler): void {
    if (typeof script === "object" && "sha" in script) {
      this.scripts.push({ matches: (s) => s === script.source, handler });
      this.loaded.set(script.sha, handler);
    } else if (typeof script === "string") {
      this.scripts.push({ matches: (s) => s.includes(script), handler });
    } else {
      this.scripts.push({ matches: (s) => script.test(s), handler });
    }
  }

  /** Forgets every loaded script (SCRIPT FLUSH, or a server that restarted). */
  flushScripts(): void {
    this.loaded.clear();
  }

  /** The value of `key`, or null. */
  get(key: string): string | null {
    const e = this.keys.get(key);
    if (!e) return null;
    if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.keys.delete(key);
      return null;
    }
    return e.value;
  }

  /** Sets `key`, living `px` ms when given. */
  set(key: string, value: string, px?: number): void {
    this.keys.set(key, { value, expiresAt: px === undefined ? undefined : Date.now() + px });
  }

  /** Deletes `key`; returns 1 if it existed. */
  del(key: string): number {
    const had = this.get(key) !== null;
    this.keys.delete(key);
    return had ? 1 : 0;
  }

  /** Milliseconds `key` has left: -2 when absent, -1 without an expiry. */
  pttl(key: string): number {
    if (this.get(key) === null) return -2;
    const at = this.keys.get(key)!.expiresAt;
    return at === undefined ? -1 : at - Date.now();
  }

  /** Publishes `message` on `channel`; returns how many connections will receive it. */
  publish(channel: string, message: string): number {
    const to = [...(this.subscribers.get(channel) ?? [])].filter((c) => c.status === "ready");
    queueMicrotask(() => {
      for (const c of to) if (c.status === "ready") c.emit("message", channel, message);
    });
    return to.length;
  }

  /** @internal */
  subscribe(c: FakeRedis, channel: string): void {
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(c);
  }

  /** @internal */
  unsubscribe(c: FakeRedis, channel?: string): void {
    for (const [name, set] of this.subscribers) if (channel === undefined || name === channel) set.delete(c);
  }

  /** How many connections are subscribed to `channel`. */
  subscriberCount(channel: string): number {
    return this.subscribers.get(channel)?.size ?? 0;
  }

  /** @internal */
  handlerOf(sha: string): ScriptHandler | undefined {
    return this.loaded.get(sha);
  }

  /** @internal */
  load(source: string): ScriptHandler | undefined {
    const found = this.scripts.find((s) => s.matches(source));
    if (found) this.loaded.set(sha1(source), found.handler);
    return found?.handler;
  }
}

/** Settings of a {@link FakeRedis}. */
export interface FakeRedisOptions {
  /** The server (default: a new one). */
  server?: FakeServer;
  /** The status it starts in (default `ready`; `wait` is a `lazyConnect` client not connected yet). */
  status?: FakeRedis["status"];
  /** Whether `connect()` (and a duplicate) becomes ready by itself, in a microtask (default true). */
  autoConnect?: boolean;
}

/** One connection to a {@link FakeServer}, shaped like the ioredis client the cache is given. */
export class FakeRedis extends EventEmitter {
  readonly server: FakeServer;
  status: "wait" | "connecting" | "connect" | "ready" | "close" | "reconnecting" | "end";
  readonly isCluster = false;
  /** Every command sent, in order. */
  readonly sent: SentCommand[] = [];
  /** Commands held by {@link hang}, not yet released. */
  readonly held: HeldCommand[] = [];
  /** Times `connect()` was called. */
  connects = 0;
  /** The connections `duplicate()` made. */
  readonly duplicates: FakeRedis[] = [];
  private readonly autoConnect: boolean;
  private readonly rules: Rule[] = [];
  /** Channels this connection subscribed; resubscribed on "ready", as ioredis does (`autoResubscribe`). */
  private readonly channels = new Set<string>();

  constructor(o: FakeRedisOptions = {}) {
    super();
    this.server = o.server ?? new FakeServer();
    this.status = o.status ?? "ready";
    this.autoConnect = o.autoConnect ?? true;
  }

  /** This fake as the client type the cache takes. */
  get client(): RedisClient {
    return this;
  }

  /** This fake through the adapter the cache picks for it (ioredis's): the connection the tiers, the bus and the leases talk to. */
  get connection(): RedisConnection {
    return connectionOf(this);
  }

  // ---- the test's controls ----

  /** The connection is (re)established: status `ready`, channels resubscribed, "ready" emitted. */
  ready(): void {
    this.status = "ready";
    for (const ch of this.channels) this.server.subscribe(this, ch);
    this.emit("ready");
  }

  /** The connection is lost (ioredis reconnects): status `reconnecting`, "close" emitted; messages are missed until {@link ready}. */
  lose(): void {
    this.status = "reconnecting";
    this.server.unsubscribe(this);
    this.emit("close");
    this.emit("reconnecting");
  }

  /** The next `times` commands matching `match` fail with `error`. */
  failNext(times = 1, error: Error = new Error("ECONNRESET"), match?: CommandMatch): void {
    this.rules.push({ match: matcher(match), remaining: times, kind: "fail", error });
  }

  /**
   * The next `times` commands matching `match` run at once, and their
   * replies are delivered `ms` later (by `setTimeout`, so fake timers move
   * them): what a client sees when its event loop gets to a reply late.
   */
  lagNext(ms: number, match?: CommandMatch, times = 1): void {
    this.rules.push({ match: matcher(match), remaining: times, kind: "lag", error: new Error("unused"), ms });
  }

  /** The next command matching `match` is held until the test releases it (see {@link held}). */
  hang(match?: CommandMatch, times = 1): void {
    this.rules.push({ match: matcher(match), remaining: times, kind: "hang", error: new Error("unused") });
  }

  /** The scripts run on this connection (EVALSHA and EVAL), with their KEYS and ARGV. */
  scriptRuns(): ScriptRun[] {
    return this.sent
      .filter((c) => c.name === "evalsha" || c.name === "eval")
      .map((c) => {
        const [, n, ...rest] = c.args as [string, number, ...unknown[]];
        return { name: c.name as "evalsha" | "eval", keys: rest.slice(0, n).map(String), args: rest.slice(n).map(String) };
      });
  }

  /** How many commands named `name` were sent. */
  count(name: string): number {
    return this.sent.filter((c) => c.name === name).length;
  }

  // ---- the ioredis client ----

  connect(): Promise<void> {
    this.connects++;
    if (this.status === "ready") return Promise.resolve();
    this.status = "connecting";
    if (this.autoConnect) queueMicrotask(() => this.status === "connecting" && this.ready());
    return Promise.resolve();
  }

  /** A new connection to the same server, connecting (ioredis's `duplicate()`). */
  duplicate(): FakeRedis {
    const d = new FakeRedis({ server: this.server, status: "wait", autoConnect: this.autoConnect });
    this.duplicates.push(d);
    void d.connect();
    return d;
  }

  disconnect(): void {
    this.sent.push({ name: "disconnect", args: [] });
    this.end();
  }

  quit(): Promise<"OK"> {
    return this.command("quit", [], () => {
      queueMicrotask(() => this.end());
      return "OK" as const;
    });
  }

  get(key: string): Promise<string | null> {
    return this.command("get", [key], () => this.server.get(key));
  }

  mget(...keys: string[]): Promise<(string | null)[]> {
    return this.command("mget", keys, () => keys.map((k) => this.server.get(k)));
  }

  del(key: string): Promise<number> {
    return this.command("del", [key], () => this.server.del(key));
  }

  /** WAIT: no replicas behind the fake. */
  wait(replicas: number, ms: number): Promise<number> {
    return this.command("wait", [replicas, ms], () => 0);
  }

  /** A pipeline of this fake's own commands (by their lower-case names); an unknown one gets an error reply. */
  pipeline(commands: (string | number)[][]): { exec(): Promise<Array<[Error | null, unknown]>> } {
    const run = async ([name, ...args]: (string | number)[]): Promise<[Error | null, unknown]> => {
      const method: unknown = Reflect.get(this, String(name).toLowerCase());
      if (typeof method !== "function") return [new Error(`ERR the fake has no command ${String(name)}`), null];
      try {
        return [null, await method.apply(this, args)];
      } catch (err) {
        return [err as Error, null];
      }
    };
    return { exec: () => Promise.all(commands.map(run)) };
  }

  set(key: string, value: string, ...options: (string | number)[]): Promise<"OK" | null> {
    return this.command("set", [key, value, ...options], () => {
      const flags = options.map((o) => String(o).toUpperCase());
      const px = flags.indexOf("PX");
      const ex = flags.indexOf("EX");
      const ms = px >= 0 ? Number(options[px + 1]) : ex >= 0 ? Number(options[ex + 1]) * 1000 : undefined;
      const exists = this.server.get(key) !== null;
      if ((flags.includes("NX") && exists) || (flags.includes("XX") && !exists)) return null;
      this.server.set(key, String(value), ms);
      return "OK" as const;
    });
  }

  pttl(key: string): Promise<number> {
    return this.command("pttl", [key], () => this.server.pttl(key));
  }

  publish(channel: string, message: string): Promise<number> {
    return this.command("publish", [channel, message], () => this.server.publish(channel, message));
  }

  ping(): Promise<string> {
    return this.command("ping", [], () => "PONG");
  }

  subscribe(...channels: string[]): Promise<number> {
    return this.command("subscribe", channels, () => {
      for (const ch of channels) {
        this.channels.add(ch);
        this.server.subscribe(this, ch);
      }
      return this.channels.size;
    });
  }

  unsubscribe(...channels: string[]): Promise<number> {
    return this.command("unsubscribe", channels, () => {
      for (const ch of channels.length > 0 ? channels : [...this.channels]) {
        this.channels.delete(ch);
        this.server.unsubscribe(this, ch);
      }
      return this.channels.size;
    });
  }

  evalsha(sha: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> {
    return this.command("evalsha", [sha, numKeys, ...keysAndArgs], () => {
      const handler = this.server.handlerOf(sha);
      if (!handler) throw new Error("NOSCRIPT No matching script. Please use EVAL.");
      return this.runHandler(handler, numKeys, keysAndArgs);
    });
  }

  eval(source: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> {
    return this.command("eval", [source, numKeys, ...keysAndArgs], () => {
      const handler = this.server.load(source);
      if (!handler) throw new Error(`ERR the fake server has no stub for the script: ${source.trim().slice(0, 60)}`);
      return this.runHandler(handler, numKeys, keysAndArgs);
    });
  }

  // ---- internals ----

  private runHandler(handler: ScriptHandler, numKeys: number, keysAndArgs: readonly (string | number)[]): unknown {
    return handler(keysAndArgs.slice(0, numKeys).map(String), keysAndArgs.slice(numKeys).map(String), this.server);
  }

  private end(): void {
    if (this.status === "end") return;
    this.status = "end";
    this.server.unsubscribe(this);
    this.emit("close");
    this.emit("end");
  }

  /** Sends one command: injected failures and hangs first, then the connection's state, then `run`. */
  private command<T>(name: string, args: readonly unknown[], run: () => T): Promise<Awaited<T>> {
    this.sent.push({ name, args });
    const exec = async (): Promise<Awaited<T>> => {
      if (this.status !== "ready") throw new Error("Connection is closed.");
      if (this.channels.size > 0 && !SUBSCRIBER_COMMANDS.has(name)) {
        throw new Error("Connection in subscriber mode, only subscriber commands may be used");
      }
      return await run();
    };
    const rule = this.rules.find((r) => r.remaining > 0 && r.match(name));
    if (!rule) return exec();
    rule.remaining--;
    if (rule.kind === "fail") return Promise.reject(rule.error);
    if (rule.kind === "lag") {
      const ran = exec().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      return new Promise<Awaited<T>>((resolve, reject) => {
        setTimeout(() => void ran.then((r) => (r.ok ? resolve(r.value) : reject(r.error))), rule.ms);
      });
    }
    return new Promise<Awaited<T>>((resolve, reject) => {
      const held: HeldCommand = {
        name,
        args,
        release: () => {
          this.held.splice(this.held.indexOf(held), 1);
          exec().then(resolve, reject);
        },
        fail: (err = new Error("ECONNRESET")) => {
          this.held.splice(this.held.indexOf(held), 1);
          reject(err);
        },
      };
      this.held.push(held);
    });
  }
}

/** The commands ioredis allows on a connection in subscriber mode. */
const SUBSCRIBER_COMMANDS = new Set(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit"]);

function matcher(match: CommandMatch): (name: string) => boolean {
  if (match === undefined) return () => true;
  if (typeof match === "string") return (n) => n === match;
  if (match instanceof RegExp) return (n) => match.test(n);
  return match;
}

/**
 * Lets every promise chain that is ready run (a number of microtask turns),
 * without moving time: for code that awaits the fake's replies.
 */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
