import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { EvictionPolicy, readEvictionPolicy } from './eviction-policy';
import { redisConfig, RedisSettings } from './redis.config';

/**
 * Redis connections when REDIS_URL is set. `client(name)` returns one named connection,
 * opened on first use (pub/sub needs its own), all closed at shutdown. ioredis itself is
 * loaded with the first connection: without REDIS_URL it is never loaded.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly clients = new Map<string, Redis>();
  /** The default connection's eviction policy as read at its last connect (see evictionPolicy). */
  private policy?: EvictionPolicy;
  private policyRead?: Promise<EvictionPolicy>;
  readonly url?: string;

  constructor(@Inject(redisConfig.KEY) redisSettings: RedisSettings) {
    this.url = redisSettings.url;
  }

  get enabled(): boolean {
    return this.url !== undefined;
  }

  client(name = 'default'): Redis {
    if (!this.url) throw new Error('REDIS_URL is not set');
    let client = this.clients.get(name);
    if (!client) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const IORedis = (require('ioredis') as typeof import('ioredis')).default;
      client = new IORedis(this.url, {
        lazyConnect: false,
        maxRetriesPerRequest: 3,
        connectionName: `mdai-${name}`,
      });
      this.logOutages(client, name);
      if (name === 'default') {
        const connected = client;
        connected.on('ready', () => {
          this.policy = undefined;
          void this.readPolicy(connected);
        });
      }
      this.clients.set(name, client);
    }
    return client;
  }

  /**
   * One line when a connection's outage starts, one a minute while it lasts (with the count of
   * errors), one when it is back: ioredis reports every failed reconnect attempt (about one a
   * second per connection), which flooded the log with stack traces during an outage. Each
   * line names its connection, in the text and as fields (`connection`, `use`): one outage
   * writes a line per connection, and the relay's subscriber being back is the one that matters
   * for cross-instance delivery.
   */
  private logOutages(client: Redis, name: string): void {
    const use = CONNECTION_USES[name] ?? 'other';
    let down = false;
    let errors = 0;
    let reportedAt = 0;
    client.on('error', (error: Error) => {
      errors += 1;
      const now = Date.now();
      if (!down) {
        down = true;
        reportedAt = now;
        this.logger.warn(
          { err: error, connection: name, use },
          `Redis connection ${name} (${use}) error: reconnecting (a line a minute while it lasts)`,
        );
      } else if (now - reportedAt >= OUTAGE_REPORT_EVERY_MS) {
        reportedAt = now;
        this.logger.warn(
          { connection: name, use, errors, error: error.message },
          `Redis connection ${name} (${use}) still down`,
        );
      }
    });
    client.on('ready', () => {
      if (down)
        this.logger.log(
          { connection: name, use, errors },
          `Redis connection ${name} (${use}) is back`,
        );
      down = false;
      errors = 0;
    });
  }

  /**
   * Every connection this instance uses answers: the default one (opened if need be) and each
   * named one opened so far (the relay's publisher and subscriber, the rate limiter's). One
   * that is still reconnecting after an outage fails the check under its own name, so a health
   * report says "up" only once every part that depends on Redis can work again.
   */
  async ping(): Promise<void> {
    this.client();
    await Promise.all(
      [...this.clients].map(([name, client]) =>
        client.ping().then(
          () => undefined,
          (error: Error) => {
            throw new Error(`connection ${name}: ${error.message}`);
          },
        ),
      ),
    );
  }

  /**
   * Redis's `maxmemory-policy` and `maxmemory` (see EvictionPolicy) as the default connection read
   * them at its last connect (each reconnect reads them again: a Redis that came back may have
   * another configuration): no CONFIG per health probe, so a slow Redis does not hold a probe
   * and a Redis user without CONFIG does not fill its ACL LOG. Until that read answered, the read
   * in flight, or a new one when the last got no answer in time (a refusal is an answer).
   */
  evictionPolicy(): Promise<EvictionPolicy> {
    if (this.policy) return Promise.resolve(this.policy);
    return this.policyRead ?? this.readPolicy(this.client());
  }

  private readPolicy(client: Redis): Promise<EvictionPolicy> {
    const read: Promise<EvictionPolicy> = readEvictionPolicy(client).then(
      ({ answered, ...policy }) => {
        if (this.policyRead === read) {
          this.policyRead = undefined;
          if (answered) this.policy = policy;
        }
        return policy;
      },
    );
    this.policyRead = read;
    return read;
  }

  async onApplicationShutdown(): Promise<void> {
    // quit() waits for a connection that may never come back, and for an answer a frozen
    // server never sends: a client that is not ready just stops, one that does not answer
    // QUIT within QUIT_WAIT_MS is cut
    await Promise.all([...this.clients.values()].map((c) => closeClient(c)));
    this.clients.clear();
  }
}

/** What each named connection is for, as its outage lines say. */
const CONNECTION_USES: Record<string, string> = {
  default: 'health probe',
  'relay-pub': 'relay publisher, slots, kiosk presence',
  'relay-sub': 'relay subscriber',
  throttler: 'rate limit',
};

/** How often an outage that lasts is reported again. */
const OUTAGE_REPORT_EVERY_MS = 60_000;

/** How long a ready client's QUIT may wait for its answer at shutdown. */
const QUIT_WAIT_MS = 1000;

async function closeClient(client: Redis): Promise<void> {
  if (client.status !== 'ready') return void client.disconnect();
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_WAIT_MS);
    timer.unref();
  });
  await Promise.race([client.quit().catch(() => undefined), cut]);
  clearTimeout(timer);
  client.disconnect();
}

@Global()
@Module({ providers: [RedisService], exports: [RedisService] })
export class RedisModule {}
