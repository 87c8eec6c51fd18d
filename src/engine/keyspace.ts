/**
 * The L2 keyspace of one cache: what makes an entry's Redis key, besides its
 * query. An L1 key (the canonical text of a read) is hashed under the
 * namespace, the key format, the database fingerprint and the client's global
 * `omit`, so that two databases, or two differently built clients, sharing a
 * Redis never read each other's entries.
 * @module
 */
import { canonicalHasher, canonicalize } from "../keys.js";

/** Version of the key format; part of every key. */
const KEY_FORMAT = "2";

/** What the keyspace needs to know of the database: its fingerprint, once taken. */
export interface Fingerprint {
  /** The fingerprint text, once known. */
  readonly known: string | undefined;
}

/** Forms L2 key ids. */
export class Keyspace {
  private hasher: ((text: string) => string) | undefined;

  /**
   * @param namespace the Redis key prefix.
   * @param clientShape what in the client's construction shapes results (its global `omit`), canonical.
   * @param fingerprint the database fingerprint; without one (no Redis), keys need none.
   */
  constructor(
    private readonly namespace: string,
    private readonly clientShape: string,
    private readonly fingerprint?: Fingerprint,
  ) {}

  /** Whether L2 keys can be formed: without a fingerprint to wait for always, else once it is known. */
  keyed(): boolean {
    return this.fingerprint === undefined || this.fingerprint.known !== undefined;
  }

  /** The L2 key id of an L1 key. Only called once {@link keyed} is true. */
  id(l1Key: string): string {
    this.hasher ??= canonicalHasher(this.namespace, canonicalize([KEY_FORMAT, this.fingerprint?.known ?? "", this.clientShape]));
    return this.hasher(l1Key);
  }
}
