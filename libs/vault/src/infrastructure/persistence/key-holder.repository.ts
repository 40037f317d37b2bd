/** A running server and the master key versions its VAULT_KEYS holds, as of its last heartbeat. */
export interface KeyHolder {
  /** `<hostname>:<pid>:<random>`, one per process. */
  instanceId: string;
  versions: string[];
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
