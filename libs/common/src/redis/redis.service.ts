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
  /** The eviction policy as last read (see evictionPolicy), and when (`Date.now()`). */
  private policy?: EvictionPolicy;
  private policyAt = 0;
  private policyRead?: Promise<EvictionPolicy>;
  /** How old the policy read may be before a probe has it read again (`EVICTION_POLICY_MAX_AGE_MS`). */
  policyMaxAgeMs = EVICTION_POLICY_MAX_AGE_MS;
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
   * Redis's `maxmemory-policy` and `maxmemory` (see EvictionPolicy) as last read: at each connect
   * of the default connection and of the relay bus's (`notePolicy`: a Redis that came back may
   * have another configuration), and again in the background by a probe that finds the read
   * older than `policyMaxAgeMs` (5 minutes: a `CONFIG SET` on a Redis that never restarted),
   * answered with the one it has. So no probe waits for a CONFIG and at most one CONFIG pair runs
   * per 5 minutes of probes: a slow Redis does not hold a probe and a Redis user without CONFIG
   * does not fill its ACL LOG. Until a read answered, the read in flight, or a new one when the
   * last got no answer in time (a refusal is an answer).
   */
  evictionPolicy(): Promise<EvictionPolicy> {
    if (this.policy) {
      if (!this.policyRead && Date.now() - this.policyAt >= this.policyMaxAgeMs) {
        // counted from its start: a read that gets no answer in time is not asked again by
        // the next probe, but after the age limit
        this.policyAt = Date.now();
        void this.readPolicy(this.client());
      }
      return Promise.resolve(this.policy);
    }
    return this.policyRead ?? this.readPolicy(this.client());
  }

  /** A policy another connection of this process read (the relay bus's, at its connects). */
  notePolicy(policy: EvictionPolicy): void {
    this.policy = policy;
    this.policyAt = Date.now();
  }

  private readPolicy(client: Redis): Promise<EvictionPolicy> {
    const read: Promise<EvictionPolicy> = readEvictionPolicy(client).then(
      ({ answered, ...policy }) => {
        if (this.policyRead === read) {
          this.policyRead = undefined;
          if (answered) this.notePolicy(policy);
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

/** How old a read eviction policy may be before a health probe has it read again (background). */
export const EVICTION_POLICY_MAX_AGE_MS = 5 * 60_000;

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
