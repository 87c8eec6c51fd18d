/**
 * The operations of the randomized precision test
 * (test/integration/precision-random.test.ts), as plain data, so that the
 * test, its child processes (precision-child.ts) and a replay of a recorded
 * run all run the very same calls. Free of vitest.
 * @module
 */
import { decode, encode } from "../../src/codec";
import { Prisma } from "../../generated/prisma/client";

/** The model delegates the test uses. */
export type Delegate = "user" | "post" | "comment" | "tag" | "profile" | "group" | "membership" | "sample";

/** A read or a write of a model delegate: `client[model][method](args)`. */
export interface ModelOp {
  kind: "read" | "write";
  model: Delegate;
  method: string;
  args: Record<string, unknown>;
  /** A read whose order is not defined (no orderBy, take, skip, cursor or distinct at any level): compared as multisets. */
  unordered?: boolean;
}

/** `$executeRaw` of a Prisma.Sql given by its strings and (flat) values. */
export interface RawOp {
  kind: "raw";
  strings: string[];
  values: unknown[];
}

/** One operation. */
export type Op = ModelOp | RawOp;

/** What an operation came to: its value (codec-encoded), or Prisma's error (name, code, the last line of its message). */
export type Outcome = { ok: true; value: string } | { ok: false; error: { name: string; code: string | undefined; message: string } };

/** A raw op from a Prisma.Sql (its strings and flattened values). */
export function rawOp(sql: Prisma.Sql): RawOp {
  return { kind: "raw", strings: [...sql.strings], values: [...sql.values] };
}

type Callable = Record<string, (args?: unknown) => PromiseLike<unknown>>;

/** Runs `op` on `client` (a cached or a plain Prisma client). */
export async function runOp(client: unknown, op: Op): Promise<Outcome> {
  try {
    const c = client as Record<string, unknown>;
    let value: unknown;
    if (op.kind === "raw")
      value = await (c.$executeRaw as (sql: Prisma.Sql) => PromiseLike<number>)(new Prisma.Sql(op.strings, op.values as Prisma.Sql["values"]));
    else value = await (c[op.model] as Callable)[op.method]!(op.args);
    return { ok: true, value: encode(value) };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; stack?: string };
    const name = e?.name ?? "Error";
    // Prisma's errors, and its query interpreter's (relationMode = "prisma" emulates relations and can meet rows
    // they forbid, e.g. "Expected zero or one element"): outcomes the two clients must agree on.
    if (!name.startsWith("PrismaClient") && !String(e?.stack ?? "").includes("client-engine-runtime")) throw err;
    return {
      ok: false,
      error: {
        name,
        code: e.code,
        message: String(e.message ?? "")
          .trim()
          .split("\n")
          .slice(-1)[0]!,
      },
    };
  }
}

/** Encodes an op for IPC (the codec keeps every value's type). */
export const encodeOp = (op: Op): string => encode(op);

/** Decodes an op sent with {@link encodeOp}. */
export const decodeOp = (text: string): Op => decode(text) as Op;

/**
 * A comparable form of a read's outcome: its value, codec-encoded, with
 * every array sorted when the read's order is not defined; an error by
 * name and code.
 */
export function comparable(outcome: Outcome, unordered: boolean): string {
  if (!outcome.ok) return `error ${outcome.error.name} ${outcome.error.code ?? ""}`;
  if (!unordered) return outcome.value;
  return encode(sortArrays(decode(outcome.value)));
}

/** `v` with every array, at any depth, sorted by its elements' encoding. */
function sortArrays(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v
      .map(sortArrays)
      .map((x) => [encode(x), x] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map((p) => p[1]);
  }
  if (v === null || typeof v !== "object" || v instanceof Date || v instanceof Uint8Array || Prisma.Decimal.isDecimal(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = sortArrays(x);
  return out;
}
