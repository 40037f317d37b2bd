import { Injectable, Logger } from '@nestjs/common';
import { REPLICA_LIVE_BEATS, ReplicaRegistry } from '@app/tlog';
import { KeyringService } from './keyring.service';

/**
 * A running server, the master key versions its VAULT_KEYS holds and the one it seals under, as
 * of its last heartbeat (its row of the replica registry).
 */
export interface KeyHolder {
  /** `<hostname>:<pid>:<random>`, one per process (its replica id). */
  instanceId: string;
  versions: string[];
  /**
   * The version it seals new values under (its VAULT_ACTIVE_KEY, else the last of VAULT_KEYS);
   * absent in a row moved from a store of a release older than this field.
   */
  active?: string;
  seenAt: Date;
}

/**
 * A server not seen for this long, at the default STORE_MAC_HEARTBEAT_MS (a minute), is taken
 * for gone (it crashed without removing its row): 3 of its own heartbeats.
 */
export const KEY_HOLDER_LIVE_MS = REPLICA_LIVE_BEATS * 60_000;

/**
 * The vault side of the replica registry (ReplicaRegistry, one row per server, one heartbeat):
 * each server records which master key versions its VAULT_KEYS holds and the one it seals new
 * values under (its active version). `npm run keys:reseal` reads the live ones and refuses to
 * reseal under a version one of them lacks (that server would answer 503 key_unavailable for
 * every resealed value until restarted) or while one seals under another version (it would keep
 * sealing new values under a version the reseal just emptied); no `droppable` ever names a
 * version a live server seals under.
 */
@Injectable()
export class KeyHoldersService {
  private readonly logger = new Logger(KeyHoldersService.name);

  constructor(
    private readonly registry: ReplicaRegistry,
    keyring: KeyringService,
  ) {
    registry.contribute(() => ({
      vaultKeyVersions: keyring.versions(),
      vaultActiveKey: keyring.activeVersion,
    }));
    keyring.onMissingVersion((version) => void this.reportMissing(version));
  }

  /** This server's id in the registry. */
  get instanceId(): string {
    return this.registry.replicaId;
  }

  /** Stops this server's heartbeat (the whole registry's: one row per server). */
  async stop(): Promise<void> {
    await this.registry.stop();
  }

  /** The other live servers that do not hold `version`. */
  async liveLacking(version: string, now = new Date()): Promise<KeyHolder[]> {
    return (await this.liveOthers(now)).filter((h) => !h.versions.includes(version));
  }

  /** The other live servers that recorded vault key versions (this process excluded). */
  async liveOthers(now = new Date()): Promise<KeyHolder[]> {
    const holders: KeyHolder[] = [];
    for (const r of await this.registry.list(now)) {
      const versions = r.holds.vaultKeyVersions;
      if (!r.live || r.self || !versions) continue;
      holders.push({
        instanceId: r.replicaId,
        versions,
        ...(r.holds.vaultActiveKey ? { active: r.holds.vaultActiveKey } : {}),
        seenAt: r.seenAt,
      });
    }
    return holders;
  }

  /** The other live servers that seal new values under a version other than `version`. */
  async liveSealingOtherThan(version: string, now = new Date()): Promise<KeyHolder[]> {
    return (await this.liveOthers(now)).filter((h) => h.active && h.active !== version);
  }

  /** The versions the other live servers seal new values under (never droppable). */
  async liveActiveVersions(now = new Date()): Promise<string[]> {
    const active = (await this.liveOthers(now)).map((h) => h.active);
    return [...new Set(active.filter((v): v is string => !!v))].sort();
  }

  /**
   * How many other live servers hold each of `versions` (versions this process lacks): one
   * that some live server holds means this replica is behind a VAULT_KEYS rollout (/health
   * degraded: restart it with the current VAULT_KEYS); one that none holds is sealed data no
   * server can open now, which restarting this replica with the keys it was given does not
   * change (reported by the metric, the log and GET /api/v5/vault/keys `unheld`, not /health).
   */
  async holdersOf(versions: string[], now = new Date()): Promise<Map<string, number>> {
    if (versions.length === 0) return new Map();
    const others = await this.liveOthers(now);
    return new Map(versions.map((v) => [v, others.filter((h) => h.versions.includes(v)).length]));
  }

  /** Logs, once per version found missing, which of the two cases above it is. */
  private async reportMissing(version: string): Promise<void> {
    let heldBy: number;
    try {
      heldBy = (await this.holdersOf([version])).get(version) ?? 0;
    } catch {
      return; // the store is down: /health says so
    }
    const keyVersion = version.slice(0, 32);
    if (heldBy > 0) {
      this.logger.error(
        { keyVersion, heldBy },
        'A master key version this server lacks seals values, and another live server holds it: this replica is behind a VAULT_KEYS rollout (/health degraded); restart it with the current VAULT_KEYS',
      );
    } else {
      this.logger.error(
        { keyVersion },
        'A master key version this server lacks seals values, and no live server holds it: they answer 503 key_unavailable on every server until one runs with a VAULT_KEYS that holds it (GET /api/v5/vault/keys, unheld); /health stays up',
      );
    }
  }
}
