/**
 * A running server, the master key versions its VAULT_KEYS holds and the one it seals under, as
 * of its last heartbeat.
 */
export interface KeyHolder {
  /** `<hostname>:<pid>:<random>`, one per process. */
  instanceId: string;
  versions: string[];
  /**
   * The version it seals new values under (its VAULT_ACTIVE_KEY, else the last of VAULT_KEYS);
   * absent in a row written by a server older than this field.
   */
  active?: string;
  seenAt: Date;
}

/**
 * Where each running server records which master key versions it holds (at boot, then every
 * minute), so `npm run keys:reseal` can refuse to reseal under a version a live server lacks.
 */
export abstract class KeyHolderRepository {
  /** Records (or refreshes) one server's versions. */
  abstract record(holder: KeyHolder): Promise<void>;
  /** Servers seen at `since` or later. */
  abstract listSeenSince(since: Date): Promise<KeyHolder[]>;
  /** Forgets a server (it shuts down). */
  abstract remove(instanceId: string): Promise<void>;
}
