/**
 * What a running server holds that an operator command must know before it re-keys stored
 * data: the store-MAC key it tags rows under (its id, never the key) and the vault master key
 * versions its VAULT_KEYS holds, with the one it seals new values under. Each part is recorded
 * by the module that owns it; a part absent is one that server did not record.
 */
export interface ReplicaHoldings {
  /** The id of the store-MAC key it tags under (16 hex digits). */
  storeMacKid?: string;
  /** The master key versions its VAULT_KEYS holds. */
  vaultKeyVersions?: string[];
  /** The version it seals new values under (VAULT_ACTIVE_KEY, else the last of VAULT_KEYS). */
  vaultActiveKey?: string;
}

/** A running server and what it holds, as of its last heartbeat. */
export interface Replica {
  /** `<hostname>:<pid>:<random>`, one per process. */
  replicaId: string;
  /** The host it runs on (`os.hostname()`: a container's id under compose). */
  host: string;
  holds: ReplicaHoldings;
  /** When it started. */
  startedAt: Date;
  /** Its last heartbeat. */
  seenAt: Date;
  /** How often it beats (STORE_MAC_HEARTBEAT_MS): it counts as live for 3 of them. */
  heartbeatMs: number;
}

/**
 * The replica registry: where each running server records what it holds (at boot, then every
 * STORE_MAC_HEARTBEAT_MS), so `npm run keys:retag` and `npm run keys:reseal` can refuse while a
 * live replica holds an old key, and /health can show them.
 */
export abstract class ReplicaRegistryRepository {
  /** Records (or refreshes) one server's row, its holdings replaced whole. */
  abstract record(replica: Replica): Promise<void>;
  /** Every recorded server, by id. */
  abstract list(): Promise<Replica[]>;
  /** Forgets a server (it shuts down). */
  abstract remove(replicaId: string): Promise<void>;
  /** Forgets the servers last seen before `before` (crashed long ago); how many. */
  abstract removeSeenBefore(before: Date): Promise<number>;
}
