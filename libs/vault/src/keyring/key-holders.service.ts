import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  KeyHolder,
  KeyHolderRepository,
} from '../infrastructure/persistence/key-holder.repository';
import { KeyringService } from './keyring.service';

/** How often a server records the master key versions it holds. */
export const KEY_HOLDER_HEARTBEAT_MS = 60_000;
/** A server not seen for this long is taken for gone (it crashed without removing its row). */
export const KEY_HOLDER_LIVE_MS = 3 * KEY_HOLDER_HEARTBEAT_MS;

/**
 * Each server records in the store which master key versions its VAULT_KEYS holds and the one
 * it seals new values under (its active version): at boot, every minute, and removes its row
 * when it shuts down. `npm run keys:reseal` reads the live ones and refuses to reseal under a
 * version one of them lacks (that server would answer 503 key_unavailable for every resealed
 * value until restarted) or while one seals under another version (it would keep sealing new
 * values under a version the reseal just emptied); no `droppable` ever names a version a live
 * server seals under.
 */
@Injectable()
export class KeyHoldersService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(KeyHoldersService.name);
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly holders: KeyHolderRepository,
    private readonly keyring: KeyringService,
  ) {
    keyring.onMissingVersion((version) => void this.reportMissing(version));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), KEY_HOLDER_HEARTBEAT_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Stops the heartbeat and forgets this server (an operator job is not a server). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.holders.remove(this.instanceId).catch(() => undefined);
  }

  /** The other live servers that do not hold `version`. */
  async liveLacking(version: string, now = new Date()): Promise<KeyHolder[]> {
    return (await this.liveOthers(now)).filter((h) => !h.versions.includes(version));
  }

  /** The other live servers (this process excluded). */
  async liveOthers(now = new Date()): Promise<KeyHolder[]> {
    const live = await this.holders.listSeenSince(new Date(now.getTime() - KEY_HOLDER_LIVE_MS));
    return live.filter((h) => h.instanceId !== this.instanceId);
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

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.holders.record({
        instanceId: this.instanceId,
        versions: this.keyring.versions(),
        active: this.keyring.activeVersion,
        seenAt: new Date(),
      });
    } catch (error) {
      // the store is down: /health says so; the reseal command then sees this server as gone
      this.logger.warn(
        { err: error },
        'Could not record the master key versions held and sealed under',
      );
    }
  }
}
