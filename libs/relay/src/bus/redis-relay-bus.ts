import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { RelayRole } from '../protocol/messages';
import { BusEnvelope, EnvelopeHandler, RelayBus } from './relay-bus';

const CHANNEL_PREFIX = 'mdai:relay:s:';
const SLOT_PREFIX = 'mdai:relay:slot:';
const RELEASE_IF_HOLDER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/**
 * Several instances: each subscribes to the channels of the sessions it holds sockets of;
 * slots are Redis keys set with NX and a TTL (the session's remaining lifetime), released
 * only by their holder.
 */
export class RedisRelayBus extends RelayBus {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger(RedisRelayBus.name);
  private readonly handlers = new Map<string, EnvelopeHandler>();

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
  ) {
    super();
    this.sub.on('message', (channel: string, message: string) => {
      const handler = this.handlers.get(channel.slice(CHANNEL_PREFIX.length));
      if (!handler) return;
      try {
        handler(JSON.parse(message) as BusEnvelope);
      } catch (error) {
        this.logger.warn({ err: error }, 'Dropped a malformed relay envelope');
      }
    });
  }

  async publish(sessionId: string, envelope: BusEnvelope): Promise<void> {
    await this.pub.publish(CHANNEL_PREFIX + sessionId, JSON.stringify(envelope));
  }

  async subscribe(sessionId: string, handler: EnvelopeHandler): Promise<void> {
    const fresh = !this.handlers.has(sessionId);
    this.handlers.set(sessionId, handler);
    if (fresh) await this.sub.subscribe(CHANNEL_PREFIX + sessionId);
  }

  async unsubscribe(sessionId: string): Promise<void> {
    if (this.handlers.delete(sessionId)) await this.sub.unsubscribe(CHANNEL_PREFIX + sessionId);
  }

  async claimSlot(
    sessionId: string,
    role: RelayRole,
    holder: string,
    ttlMs: number,
  ): Promise<boolean> {
    const result = await this.pub.set(
      `${SLOT_PREFIX}${sessionId}:${role}`,
      holder,
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
      'NX',
    );
    return result === 'OK';
  }

  async releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void> {
    await this.pub.eval(RELEASE_IF_HOLDER, 1, `${SLOT_PREFIX}${sessionId}:${role}`, holder);
  }

  async isSlotTaken(sessionId: string, role: RelayRole): Promise<boolean> {
    return (await this.pub.exists(`${SLOT_PREFIX}${sessionId}:${role}`)) === 1;
  }
}
