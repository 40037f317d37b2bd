import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { Clock } from '@app/common';
import { BusUnavailableError } from '../bus/relay-bus';
import { bounded } from '../bus/redis-relay-bus';

const KEY_PREFIX = 'mdai:relay:kiosk:';

/**
 * Which kiosks have an authenticated socket in a session right now. Every instance keeps its
 * own kiosk sockets here; with Redis each also writes them to a sorted set per kiosk
 * (`mdai:relay:kiosk:<deviceId>`: member the connection id, score the time it stops counting),
 * refreshed like the session slots, so a crashed instance's kiosks drop out within one TTL.
 * Without Redis this instance is the whole relay and its own sockets are the answer.
 */
@Injectable()
export class KioskPresence implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(KioskPresence.name);
  private readonly byConnection = new Map<string, string>();
  private readonly byDevice = new Map<string, Set<string>>();
  private refresh?: NodeJS.Timeout;

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly redis?: Redis,
  ) {}

  onModuleInit(): void {
    if (!this.redis) return;
    this.refresh = setInterval(
      () => void this.write([...this.byConnection]),
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
    this.refresh.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.refresh);
  }

  /** A kiosk socket joined its session. Never throws; a failed write is retried by the refresh. */
  joined(connectionId: string, deviceId: string): void {
    this.byConnection.set(connectionId, deviceId);
    let sockets = this.byDevice.get(deviceId);
    if (!sockets) this.byDevice.set(deviceId, (sockets = new Set()));
    sockets.add(connectionId);
    void this.write([[connectionId, deviceId]]);
  }

  /** The socket left (a no-op for a socket that never joined as a kiosk). Never throws. */
  left(connectionId: string): void {
    const deviceId = this.byConnection.get(connectionId);
    if (deviceId === undefined) return;
    this.byConnection.delete(connectionId);
    const sockets = this.byDevice.get(deviceId);
    sockets?.delete(connectionId);
    if (sockets?.size === 0) this.byDevice.delete(deviceId);
    if (!this.redis) return;
    // if this fails, the member's score runs out within one TTL
    this.redis.zrem(KEY_PREFIX + deviceId, connectionId).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'Kiosk presence: removal failed');
    });
  }

  /**
   * For each kiosk, whether a socket of it is in a session on any instance. Rejects with
   * BusUnavailableError when Redis does not answer (the local sockets alone would be a guess).
   */
  async connected(deviceIds: readonly string[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    if (!this.redis) {
      for (const id of deviceIds) out.set(id, this.byDevice.has(id));
      return out;
    }
    const pipeline = this.redis.pipeline();
    const now = this.clock.now().getTime();
    for (const id of deviceIds) pipeline.zcount(KEY_PREFIX + id, now, '+inf');
    const results = await bounded('kioskPresence', () => pipeline.exec());
    deviceIds.forEach((id, i) => {
      const [error, count] = results?.[i] ?? [new Error('no reply'), 0];
      if (error) throw new BusUnavailableError('kioskPresence', error);
      out.set(id, Number(count) > 0);
    });
    return out;
  }

  private async write(entries: Array<[string, string]>): Promise<void> {
    if (!this.redis || entries.length === 0) return;
    const until = this.clock.now().getTime() + this.ttlMs;
    const pipeline = this.redis.pipeline();
    for (const [connectionId, deviceId] of entries) {
      pipeline.zadd(KEY_PREFIX + deviceId, until, connectionId);
      // the key outlives its last member by one TTL, then Redis drops it
      pipeline.pexpire(KEY_PREFIX + deviceId, this.ttlMs * 2);
    }
    for (const deviceId of new Set(entries.map(([, d]) => d))) {
      pipeline.zremrangebyscore(KEY_PREFIX + deviceId, '-inf', this.clock.now().getTime());
    }
    try {
      await bounded('kioskPresence', () => pipeline.exec());
    } catch (error) {
      this.logger.warn({ err: error }, 'Kiosk presence: write failed (retried by the refresh)');
    }
  }
}
