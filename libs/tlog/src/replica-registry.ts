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
  Replica,
  ReplicaHoldings,
  ReplicaRegistryRepository,
} from './infrastructure/persistence/replicas/replica-registry.repository';
import { STORE_MAC_HEARTBEAT_MS, tlogConfig, TlogSettings } from './tlog.config';

export type { Replica, ReplicaHoldings };

/** A server counts as live for this many of its heartbeats after its last one. */
export const REPLICA_LIVE_BEATS = 3;
/** A row not refreshed for this long is deleted by the next heartbeat of any server. */
export const REPLICA_FORGET_MS = 7 * 24 * 3600_000;

/** A recorded server, and whether it is live at the time asked. */
export interface ReplicaView extends Replica {
  /** Seen within REPLICA_LIVE_BEATS of its own heartbeats. */
  live: boolean;
  /** This process. */
  self: boolean;
}

/** Whether `r` beat within REPLICA_LIVE_BEATS of its own heartbeat period before `now`. */
export function replicaLive(r: Pick<Replica, 'seenAt' | 'heartbeatMs'>, now: Date): boolean {
  return r.seenAt.getTime() >= now.getTime() - REPLICA_LIVE_BEATS * r.heartbeatMs;
}

/**
 * The replica registry: each server records in the store its id, host, start and last-seen
 * times and what it holds (the store-MAC key id it tags under, the vault master key versions it
 * holds and seals under; each part given by the module owning it, `contribute`): at boot, every
 * STORE_MAC_HEARTBEAT_MS (one small upsert), and removes its row when it shuts down.
 * `npm run keys:retag` (StoreMacReplicas) and `npm run keys:reseal` (the vault's
 * KeyHoldersService) read it and refuse while a live server (seen within 3 of its own
 * heartbeat periods) holds an old key; /health shows it. A job (runAppJob) is not a server: it
 * stops this at once.
 */
@Injectable()
export class ReplicaRegistry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReplicaRegistry.name);
  readonly replicaId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly startedAt = new Date();
  readonly heartbeatMs: number;
  private readonly parts: Array<() => ReplicaHoldings> = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** The beat under way, if any: the next tick skips while it runs (a slow store piles none up). */
  private inFlight?: Promise<void>;
  /** Whether the last beat failed: a failure is logged when the store goes down, once. */
  private down = false;

  constructor(
    private readonly replicas: ReplicaRegistryRepository,
    @Inject(tlogConfig.KEY) settings: Pick<TlogSettings, 'storeMacHeartbeatMs'>,
  ) {
    this.heartbeatMs = settings.storeMacHeartbeatMs ?? STORE_MAC_HEARTBEAT_MS;
  }

  /**
   * Adds a part of what this server holds to every heartbeat (called by the owning module's
   * constructor, so the first beat, at bootstrap, carries every part).
   */
  contribute(part: () => ReplicaHoldings): void {
    this.parts.push(part);
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
    // a beat already running would otherwise record this replica again after its removal (live
    // for 3 heartbeats more: keys:retag and keys:reseal refusing right after a rolling restart)
    await this.inFlight?.catch(() => undefined);
    await this.replicas.remove(this.replicaId).catch(() => undefined);
  }

  /** Every recorded server, each marked live or not at `now` and whether it is this one. */
  async list(now = new Date()): Promise<ReplicaView[]> {
    return (await this.replicas.list()).map((r) => ({
      ...r,
      live: replicaLive(r, now),
      self: r.replicaId === this.replicaId,
    }));
  }

  /** What this server holds now: every part contributed, merged. */
  holdings(): ReplicaHoldings {
    return Object.assign({}, ...this.parts.map((part) => part())) as ReplicaHoldings;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const now = new Date();
    try {
      await this.replicas.record({
        replicaId: this.replicaId,
        host: hostname(),
        holds: this.holdings(),
        startedAt: this.startedAt,
        seenAt: now,
        heartbeatMs: this.heartbeatMs,
      });
      await this.replicas.removeSeenBefore(new Date(now.getTime() - REPLICA_FORGET_MS));
      if (this.down) {
        this.down = false;
        this.logger.log('Recording what this server holds in the replica registry again');
      }
    } catch (error) {
      // the store is down: /health says so; keys:retag and keys:reseal then see this server as
      // gone. Said once when it goes down (its message, no stack), not on every beat
      if (!this.down) {
        this.down = true;
        this.logger.warn(
          `Could not record what this server holds (store-MAC key id, vault key versions) in the replica registry (${(error as Error).name}: ${(error as Error).message}); retrying every ${this.heartbeatMs} ms, logged again when it works`,
        );
      }
    }
  }
}
