/**
 * A running server and the store-MAC key it tags rows under (its STORE_MAC_KEY's id, never the
 * key), as of its last heartbeat.
 */
export interface StoreMacReplica {
  /** `<hostname>:<pid>:<random>`, one per process. */
  replicaId: string;
  /** The host it runs on (`os.hostname()`: a container's id under compose). */
  host: string;
  /** The id of the store-MAC key it tags under (16 hex digits). */
  kid: string;
  /** When it started. */
  startedAt: Date;
  /** Its last heartbeat. */
  seenAt: Date;
  /** How often it beats (STORE_MAC_HEARTBEAT_MS): it counts as live for 3 of them. */
  heartbeatMs: number;
}

/**
 * Where each running server records the store-MAC key it tags under (at boot, then every
 * STORE_MAC_HEARTBEAT_MS), so `npm run keys:retag` can refuse while a live replica still tags
 * under another key than the current one.
 */
export abstract class StoreMacReplicaRepository {
  /** Records (or refreshes) one server's row. */
  abstract record(replica: StoreMacReplica): Promise<void>;
  /** Every recorded server, by id. */
  abstract list(): Promise<StoreMacReplica[]>;
  /** Forgets a server (it shuts down). */
  abstract remove(replicaId: string): Promise<void>;
  /** Forgets the servers last seen before `before` (crashed long ago); how many. */
  abstract removeSeenBefore(before: Date): Promise<number>;
}
