import {
  ExecutionContext,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';
import { rateLimitConfig, RateLimitSettings } from './rate-limit.config';
import { authConfig, AuthSettings } from '../auth/auth.config';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModule,
  ThrottlerModuleOptions,
  ThrottlerOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { DEFAULT_IPV6_SUBNET_PREFIX, normalizeIp } from '@nestjs/throttler/dist/ip';
import {
  THROTTLER_BLOCK_DURATION,
  THROTTLER_KEY_GENERATOR,
  THROTTLER_LIMIT,
  THROTTLER_SKIP,
  THROTTLER_TRACKER,
  THROTTLER_TTL,
} from '@nestjs/throttler/dist/throttler.constants';
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { bearerToken } from '../auth/bearer';
import { CommonError } from '../errors/common.errors';
import { RedisService } from '../redis/redis.service';
import { describeGuard } from './access-doc';
import { LocalThrottlerStorage } from './local-throttler-storage';
import { CachedReflector } from './route-metadata';

/** A dotted IPv4 address as Node's `isIPv4` accepts it (no leading zeros, each part ≤ 255). */
const IPV4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;
const MAPPED_PREFIX = '::ffff:';

/**
 * `normalizeIp(ip, prefix)` of @nestjs/throttler, answered without `net.isIP` for the two forms
 * nearly every client has: dotted IPv4, and IPv4 mapped into IPv6 (`::ffff:a.b.c.d`, how a
 * server listening on `::` sees an IPv4 client), both of which it returns as the dotted IPv4.
 * `isIP` tests Node's IPv6 pattern, a regular expression so large that compiling it on its
 * first use cost the first request after boot ~5-9 ms (docs/benchmarks.md, "boot3"). Any other
 * form goes to `normalizeIp` itself.
 */
export function throttlerIpKey(ip: string, ipv6SubnetPrefix?: number): string {
  if (typeof ip === 'string') {
    if (IPV4.test(ip)) return ip;
    if (
      ip.length > MAPPED_PREFIX.length &&
      ip.slice(0, MAPPED_PREFIX.length).toLowerCase() === MAPPED_PREFIX
    ) {
      const v4 = ip.slice(MAPPED_PREFIX.length);
      if (IPV4.test(v4)) return v4;
    }
  }
  return normalizeIp(ip, ipv6SubnetPrefix);
}

/** How long a Redis round trip may take before the limiter counts locally instead. */
const REDIS_TIMEOUT_MS = 250;
/** While Redis fails, how often one request tries it again (the others count locally). */
const REDIS_RETRY_MS = 1000;

/**
 * Counts in Redis (so a limit holds across replicas) and, when Redis fails or is slow, in
 * this process: a Redis outage loosens the limit to per-replica, it never turns a request
 * into a 5xx. The fallback is logged once per outage. While it lasts, one request per
 * REDIS_RETRY_MS tries Redis again and the others count locally at once: they neither wait
 * REDIS_TIMEOUT_MS each nor pile up commands on a connection that does not answer (a frozen
 * server would run them all when it resumes, counting them twice).
 */
export class FailoverThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private degraded = false;
  /** While degraded: when the next request may try Redis (ms since the epoch). */
  private retryAt = 0;

  constructor(
    private readonly primary: ThrottlerStorage | undefined,
    private readonly local: LocalThrottlerStorage,
  ) {}

  onApplicationShutdown(): void {
    this.local.onApplicationShutdown();
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    name: string,
  ): Promise<ThrottlerStorageRecord> {
    // the storages count hits per key and limit name: the `token` limit counts on its token's
    // credential counter
    const throttlerName = counterName(name);
    if (this.primary && (!this.degraded || Date.now() >= this.retryAt)) {
      // one request at a time tries a failing Redis
      if (this.degraded) this.retryAt = Date.now() + REDIS_RETRY_MS;
      try {
        const record = await withTimeout(
          this.primary.increment(key, ttl, limit, blockDuration, throttlerName),
          REDIS_TIMEOUT_MS,
        );
        if (this.degraded) this.logger.log('Rate limit counters are back in Redis');
        this.degraded = false;
        return record;
      } catch (error) {
        if (!this.degraded) {
          this.logger.warn(
            { err: error },
            'Rate limit counters fall back to this process: Redis does not answer',
          );
        }
        this.degraded = true;
        this.retryAt = Date.now() + REDIS_RETRY_MS;
      }
    }
    return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
  }
}

/** One throttler's settings for one route, as the library's `canActivate` resolves them. */
interface RoutePlan {
  name: string;
  skip: boolean;
  skipIf?: (context: ExecutionContext) => boolean;
  limit: number;
  ttl: number;
  blockDuration: number;
  getTracker: (req: Request, context: ExecutionContext) => string | Promise<string>;
  generateKey: (context: ExecutionContext, tracker: string, name: string) => string;
  setHeaders: boolean;
  retryAfterHeader: string;
  limitHeader: string;
  remainingHeader: string;
  resetHeader: string;
}

/** Each request's credential digest, computed once (the skip test and the tracker both ask). */
const credentialDigests = new WeakMap<object, string | undefined>();

/**
 * The credential a request presents (API key, bearer token, signing device and address), if
 * any.
 */
export function credentialOf(req: Request): string | undefined {
  if (credentialDigests.has(req)) return credentialDigests.get(req);
  const digest = digestCredential(req);
  credentialDigests.set(req, digest);
  return digest;
}

/**
 * The digest of the bearer token of a request that also presents a key (the `token` limit's
 * tracker), else undefined: a request with a token alone is counted by its token on the
 * credential limit already.
 */
export function bearerBesideKeyOf(req: Request): string | undefined {
  const key = req.headers['x-api-key'];
  const authorization = req.headers.authorization;
  if (key === undefined || authorization === undefined) return undefined;
  const token = bearerToken(authorization);
  return token === undefined ? undefined : credentialDigest(`bearer:${token.slice(0, 8192)}`);
}

/** The counter a limit fills: the `token` limit fills the token's credential counter. */
export function counterName(name: string): string {
  return name === 'token' ? 'credential' : name;
}

function digestCredential(req: Request): string | undefined {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  // A key or a token is a secret: only its holder fills its counter. A signing device's id is
  // not (anyone can send it, and it is checked after the limit), so its counter is per address
  // too: requests naming a thekedar's device from elsewhere cannot lock the thekedar out.
  // A bearer token is counted as the token the routes read (`bearerToken`: the scheme in any
  // case, any run of spaces), not as the header's text: one stolen token sent as `Bearer t`,
  // `bearer t`, `BEARER  t` had a counter for each spelling. A key comes first (the key guard
  // reads only `x-api-key`: junk in Authorization beside a stolen key must not give it a fresh
  // counter each time); a token beside a key has a counter of its own (`bearerTokenOf`, the
  // `token` limit), so junk keys beside a stolen token do not help either.
  const authorization = header('authorization');
  const token = authorization === undefined ? undefined : bearerToken(authorization);
  const presented =
    header('x-api-key') ??
    (token === undefined ? undefined : `bearer:${token}`) ??
    authorization ??
    (header('x-signature') ? `device:${header('x-device-id') ?? ''}@${req.ip ?? ''}` : undefined);
  if (!presented) return undefined;
  const credential = presented.slice(0, 8192);
  let digest = recentDigests.get(credential);
  if (digest === undefined) {
    digest = credentialDigest(credential);
    if (credential.length <= 512) {
      if (recentDigests.size >= MAX_RECENT_DIGESTS) recentDigests.clear();
      recentDigests.set(credential, digest);
    }
  }
  return digest;
}

/** The counter key never holds the credential itself. */
function credentialDigest(credential: string): string {
  return createHash('sha256').update(credential).digest('hex').slice(0, 32);
}

/**
 * Digests of the credentials seen lately (clients present the same key on every request):
 * bounded in count and in the length of what is kept, emptied when full.
 */
const recentDigests = new Map<string, string>();
const MAX_RECENT_DIGESTS = 1024;

/**
 * The global rate limit, before any credential check: per client IP on every route, and per
 * presented credential (API key, bearer token, signing device) on every request that has one.
 * Over the limit → 429 `rate_limited` with `Retry-After` (seconds). Nothing is exempt; a limit
 * set to 0 is off, and boot says so.
 */
@Injectable()
export class AppThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
  ) {
    // the per-route limits (@Throttle, @SkipThrottle) are read once per route, not per request
    super(options, storage, new CachedReflector());
  }

  /** Per handler and class: each throttler's route settings, read once (see `planFor`). */
  private readonly plans = new WeakMap<object, Map<object, RoutePlan[] | null>>();

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const plan = this.planFor(context);
    if (!plan) return super.canActivate(context);
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<{ setHeader(name: string, value: string): void }>();
    for (const step of plan) {
      if (step.skip || step.skipIf?.(context)) continue;
      const tracked = step.getTracker(req, context);
      const tracker = typeof tracked === 'string' ? tracked : await tracked;
      const key = step.generateKey(context, tracker, step.name);
      const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } =
        await this.storageService.increment(
          key,
          step.ttl,
          step.limit,
          step.blockDuration,
          step.name,
        );
      // the headers `handleRequest` sets, as express's `res.header` writes them (`String(value)`)
      if (isBlocked) {
        if (step.setHeaders) res.setHeader(step.retryAfterHeader, String(timeToBlockExpire));
        await this.throwThrottlingException(context, {
          limit: step.limit,
          ttl: step.ttl,
          key,
          tracker,
          totalHits,
          timeToExpire,
          isBlocked,
          timeToBlockExpire,
        });
      }
      if (step.setHeaders) {
        res.setHeader(step.limitHeader, String(step.limit));
        res.setHeader(step.remainingHeader, String(Math.max(0, step.limit - totalHits)));
        res.setHeader(step.resetHeader, String(timeToExpire));
      }
    }
    return true;
  }

  /**
   * The library's `canActivate` reads five metadata keys per throttler and awaits each value
   * on every request (~12 awaits), though route limits are fixed once decorators ran. Here they
   * are read once per route and the request does only the counting (`handleRequest`'s work, same
   * keys, same headers, same exception). A route whose settings are functions of the request,
   * or options this plan does not model (`ignoreUserAgents`), goes through the library's path.
   */
  private planFor(context: ExecutionContext): RoutePlan[] | null {
    const handler = context.getHandler();
    const classRef = context.getClass();
    let byClass = this.plans.get(handler);
    if (!byClass) this.plans.set(handler, (byClass = new Map<object, RoutePlan[] | null>()));
    let plan = byClass.get(classRef);
    if (plan === undefined) byClass.set(classRef, (plan = this.buildPlan(handler, classRef)));
    return plan;
  }

  /**
   * The module's tracker; when none was given, the library's default (`getTracker`: the client
   * IP through `normalizeIp`, here `throttlerIpKey`; this class does not override it) called
   * without its async wrapper, so the IP counter awaits nothing.
   */
  private ownTracker(): RoutePlan['getTracker'] {
    const given = Array.isArray(this.options) ? undefined : this.options.getTracker;
    if (given) return this.commonOptions.getTracker as RoutePlan['getTracker'];
    return (req) => throttlerIpKey(req.ip as string, this.ipv6SubnetPrefix);
  }

  private buildPlan(handler: object, classRef: object): RoutePlan[] | null {
    if (this.commonOptions.ignoreUserAgents) return null;
    const targets = [handler, classRef] as never;
    const read = (key: string, name: string): unknown =>
      this.reflector.getAllAndOverride(key + name, targets);
    const plan: RoutePlan[] = [];
    for (const throttler of this.throttlers) {
      const name = throttler.name ?? 'default';
      if (throttler.ignoreUserAgents) return null;
      const limit = read(THROTTLER_LIMIT, name) ?? throttler.limit;
      const ttl = read(THROTTLER_TTL, name) ?? throttler.ttl;
      const blockDuration = read(THROTTLER_BLOCK_DURATION, name) ?? throttler.blockDuration ?? ttl;
      if (typeof limit !== 'number' || typeof ttl !== 'number' || typeof blockDuration !== 'number')
        return null;
      const suffix = name === 'default' ? '' : `-${name}`;
      plan.push({
        name,
        skip: Boolean(read(THROTTLER_SKIP, name)),
        skipIf: throttler.skipIf ?? this.commonOptions.skipIf,
        limit,
        ttl,
        blockDuration,
        getTracker: (read(THROTTLER_TRACKER, name) ||
          throttler.getTracker ||
          this.ownTracker()) as RoutePlan['getTracker'],
        generateKey: (read(THROTTLER_KEY_GENERATOR, name) ||
          throttler.generateKey ||
          this.commonOptions.generateKey) as RoutePlan['generateKey'],
        setHeaders: throttler.setHeaders ?? this.commonOptions.setHeaders ?? true,
        retryAfterHeader: `Retry-After${suffix}`,
        limitHeader: `${this.headerPrefix}-Limit${suffix}`,
        remainingHeader: `${this.headerPrefix}-Remaining${suffix}`,
        resetHeader: `${this.headerPrefix}-Reset${suffix}`,
      });
    }
    return plan;
  }

  /**
   * The 429: `Retry-After`, and the counter headers of the limit that tripped (its
   * `X-RateLimit-*-<name>`, remaining 0): a limit checked earlier in the request has set its
   * own, so without these a client saw only the per-IP headers, with room left, when its
   * credential's limit refused it. The message names the limit too.
   */
  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const seconds = Math.max(1, Math.ceil(detail.timeToBlockExpire));
    const res = context.switchToHttp().getResponse<{ setHeader(n: string, v: string): void }>();
    res.setHeader('Retry-After', String(seconds));
    // every key is `<prefix><throttler name>:<tracker>` (the module's generateKey)
    const name = this.throttlers
      .map((throttler) => throttler.name ?? 'default')
      .find((n) => detail.key.endsWith(`${n}:${detail.tracker}`));
    if (name !== undefined) {
      const suffix = name === 'default' ? '' : `-${name}`;
      res.setHeader(`${this.headerPrefix}-Limit${suffix}`, String(detail.limit));
      res.setHeader(`${this.headerPrefix}-Remaining${suffix}`, '0');
      res.setHeader(`${this.headerPrefix}-Reset${suffix}`, String(seconds));
    }
    throw new CommonError(
      'rate_limited',
      `Too many requests: at most ${detail.limit} per ${Math.round(detail.ttl / 1000)} s ${limitScope(name, detail.tracker)}; retry after ${seconds} s`,
    );
  }
}

/** Whose counter a refusal came from, in words, for the 429's message. */
function limitScope(name: string | undefined, tracker: string): string {
  if (name === 'ip') return 'from one address (RATE_LIMIT_PER_IP)';
  if (name === 'token') return 'for one bearer token (RATE_LIMIT_PER_CREDENTIAL)';
  if (name !== 'credential') return 'from one address or credential';
  return tracker.includes(SHARED_KEY_MARK)
    ? 'for the mobile app key from one address (RATE_LIMIT_PER_CREDENTIAL)'
    : 'for one credential (RATE_LIMIT_PER_CREDENTIAL)';
}

/** Joins a shared key's digest and the client address in its counter's tracker. */
const SHARED_KEY_MARK = '@';

/**
 * The per-credential counter's tracker. A key every phone of the fleet presents (a
 * `MOBILE_API_KEYS` key ships inside the phone app) is no one phone's credential: one counter
 * for it capped the whole fleet's pairing at the limit (300 sessions a minute) and let one
 * looping phone block pairing for all. Its counter is per key and client address, as a signing
 * device's is; every other credential (admin, provisioner and auditor keys, session tokens) has
 * one counter wherever it comes from.
 */
export function credentialTracker(
  sharedKeys: readonly string[],
  ipv6SubnetPrefix = DEFAULT_IPV6_SUBNET_PREFIX,
): (req: Request) => string {
  // the digests credentialOf gives those keys: a lookup of the presented key's digest, never a
  // comparison with the key itself
  const shared = new Set(sharedKeys.map((key) => credentialDigest(key)));
  return (req) => {
    const digest = credentialOf(req);
    if (digest === undefined) return '';
    if (!shared.has(digest)) return digest;
    // a phone's token beside the app's key is the phone's credential: phones behind one
    // address (a site's NAT) each keep their own counter
    const token = bearerBesideKeyOf(req);
    if (token !== undefined) return token;
    return `${digest}${SHARED_KEY_MARK}${throttlerIpKey(req.ip ?? '', ipv6SubnetPrefix)}`;
  };
}

/** The OpenAPI side of AppThrottlerGuard: every route can answer 429 (nothing is exempt). */
describeGuard(AppThrottlerGuard, () => ({ errors: { 429: ['rate_limited'] } }));

function throttlerOptions(
  limits: RateLimitSettings,
  redis: RedisService,
  auth: AuthSettings,
): ThrottlerModuleOptions {
  const logger = new Logger('RateLimit');
  const ttl = limits.windowSeconds * 1000;
  const throttlers: ThrottlerOptions[] = [];
  const sharedKeyTracker = credentialTracker(auth.apiKeys.mobile);
  const sharedDigests = new Set(auth.apiKeys.mobile.map((key) => credentialDigest(key)));
  const tokenBesideOwnKey = (req: Request) => {
    const token = bearerBesideKeyOf(req);
    return token !== undefined && !sharedDigests.has(credentialOf(req) ?? '') ? token : undefined;
  };
  if (limits.perIp > 0) {
    throttlers.push({ name: 'ip', ttl, limit: limits.perIp });
  } else {
    logger.warn('RATE_LIMIT_PER_IP=0: requests are not limited per IP');
  }
  if (limits.perCredential > 0) {
    throttlers.push({
      name: 'credential',
      ttl,
      limit: limits.perCredential,
      skipIf: (ctx) => credentialOf(ctx.switchToHttp().getRequest<Request>()) === undefined,
      getTracker: (req) => sharedKeyTracker(req as Request),
    });
    throttlers.push({
      name: 'token',
      ttl,
      limit: limits.perCredential,
      // a token beside a key that is no phone app key (beside the app's key the credential
      // limit counts the token already)
      skipIf: (ctx) => tokenBesideOwnKey(ctx.switchToHttp().getRequest<Request>()) === undefined,
      getTracker: (req) => tokenBesideOwnKey(req as Request) ?? '',
    });
  } else {
    logger.warn('RATE_LIMIT_PER_CREDENTIAL=0: requests are not limited per credential');
  }
  const primary = redis.enabled ? redisStorage(redis) : undefined;
  return {
    throttlers,
    // one counter per client across all routes, so spreading requests over routes does not
    // help, and a token's one whether a key comes beside it or not (the `token` limit fills the
    // credential counter of the token)
    generateKey: (_ctx, tracker, name) => `${limits.redisPrefix}${counterName(name)}:${tracker}`,
    storage: new FailoverThrottlerStorage(primary, new LocalThrottlerStorage()),
  };
}

/**
 * The per-IP limit for what no guard sees, WebSocket upgrades: each one counts on the HTTP
 * per-IP counter of its address (the key AppThrottlerGuard uses), so opening sockets neither
 * escapes the limit nor gets a budget of its own.
 */
@Injectable()
export class UpgradeThrottle {
  constructor(
    @Inject(rateLimitConfig.KEY) private readonly limits: RateLimitSettings,
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
  ) {}

  /** Counts one upgrade from `ip`: undefined when it may go on, else the seconds to wait. */
  async retryAfter(ip: string): Promise<number | undefined> {
    if (this.limits.perIp <= 0) return undefined;
    const ttl = this.limits.windowSeconds * 1000;
    const tracker = throttlerIpKey(ip, DEFAULT_IPV6_SUBNET_PREFIX);
    const { isBlocked, timeToBlockExpire } = await this.storage.increment(
      `${this.limits.redisPrefix}ip:${tracker}`,
      ttl,
      this.limits.perIp,
      ttl,
      'ip',
    );
    return isBlocked ? Math.max(1, Math.ceil(timeToBlockExpire)) : undefined;
  }
}

/** Provides the throttler options; AppThrottlerGuard is registered as an APP_GUARD. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY, RedisService, authConfig.KEY],
      useFactory: throttlerOptions,
    }),
  ],
  providers: [UpgradeThrottle],
  exports: [UpgradeThrottle],
})
export class RateLimitModule {}

/** The Redis counters; the module (and ioredis) is loaded only when Redis is configured. */
function redisStorage(redis: RedisService): ThrottlerStorage {
  type RedisStorageModule = typeof import('@nest-lab/throttler-storage-redis');
  const { ThrottlerStorageRedisService } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@nest-lab/throttler-storage-redis') as RedisStorageModule;
  return new ThrottlerStorageRedisService(redis.client('throttler'));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
