import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  StoreMacReplica,
  StoreMacReplicaRepository,
} from './infrastructure/persistence/replicas/store-mac-replica.repository';
import { StoreMac } from './store-mac';
import { STORE_MAC_HEARTBEAT_MS, tlogConfig, TlogSettings } from './tlog.config';

export type { StoreMacReplica };

/** A server counts as live for this many of its heartbeats after its last one. */
export const STORE_MAC_LIVE_BEATS = 3;
/** A row not refreshed for this long is deleted by the next heartbeat of any server. */
export const STORE_MAC_FORGET_MS = 7 * 24 * 3600_000;

/** A recorded server, and whether it is live at the time asked. */
export interface StoreMacReplicaView extends StoreMacReplica {
  /** Seen within STORE_MAC_LIVE_BEATS of its own heartbeats. */
  live: boolean;
  /** This process. */
  self: boolean;
}

/** Whether `r` beat within STORE_MAC_LIVE_BEATS of its own heartbeat period before `now`. */
export function replicaLive(r: StoreMacReplica, now: Date): boolean {
  return r.seenAt.getTime() >= now.getTime() - STORE_MAC_LIVE_BEATS * r.heartbeatMs;
}

/**
 * Each server records in the store the id of the store-MAC key it tags under (STORE_MAC_KEY's
 * kid, never the key), its host and its last-seen time: at boot, every STORE_MAC_HEARTBEAT_MS
 * (one small upsert), and removes its row when it shuts down. `npm run keys:retag` reads them
 * and refuses while a live server (seen within 3 of its own heartbeat periods) tags under
 * another key: it would keep writing rows under a key about to be dropped. A job (runAppJob)
 * is not a server: it stops this at once.
 */
@Injectable()
export class StoreMacReplicas implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StoreMacReplicas.name);
  readonly replicaId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly startedAt = new Date();
  readonly heartbeatMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** The beat under way, if any: the next tick skips while it runs (a slow store piles none up). */
  private inFlight?: Promise<void>;
  /** Whether the last beat failed: a failure is logged when the store goes down, once. */
  private down = false;

  constructor(
    private readonly replicas: StoreMacReplicaRepository,
    private readonly mac: StoreMac,
    @Inject(tlogConfig.KEY) settings: Pick<TlogSettings, 'storeMacHeartbeatMs'>,
  ) {
    this.heartbeatMs = settings.storeMacHeartbeatMs ?? STORE_MAC_HEARTBEAT_MS;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    if (this.stopped) return;
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = this.beat().finally(() => (this.inFlight = undefined));
    }, this.heartbeatMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Stops the heartbeat and forgets this process (an operator job is not a server). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.replicas.remove(this.replicaId).catch(() => undefined);
  }

  /** Every recorded server, each marked live or not at `now` and whether it is this one. */
  async list(now = new Date()): Promise<StoreMacReplicaView[]> {
    return (await this.replicas.list()).map((r) => ({
      ...r,
      live: replicaLive(r, now),
      self: r.replicaId === this.replicaId,
    }));
  }

  /** The other live servers that tag under a key other than `kid` (this one's by default). */
  async liveOnOtherKeys(kid = this.mac.kid, now = new Date()): Promise<StoreMacReplicaView[]> {
    return (await this.list(now)).filter((r) => r.live && !r.self && r.kid !== kid);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const now = new Date();
    try {
      await this.replicas.record({
        replicaId: this.replicaId,
        host: hostname(),
        kid: this.mac.kid,
        startedAt: this.startedAt,
        seenAt: now,
        heartbeatMs: this.heartbeatMs,
      });
      await this.replicas.removeSeenBefore(new Date(now.getTime() - STORE_MAC_FORGET_MS));
      if (this.down) {
        this.down = false;
        this.logger.log('Recording the store-MAC key this server tags under again');
      }
    } catch (error) {
      // the store is down: /health says so; keys:retag then sees this server as gone. Said
      // once when it goes down (its message, no stack), not on every beat
      if (!this.down) {
        this.down = true;
        this.logger.warn(
          `Could not record the store-MAC key this server tags under (${(error as Error).name}: ${(error as Error).message}); retrying every ${this.heartbeatMs} ms, logged again when it works`,
        );
      }
    }
  }
}
