import { OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/** One counter: the expiry times of its live hits, oldest first, read from `head` on. */
interface Counter {
  hits: number[];
  head: number;
  /** End of the current window (the `timeToExpire` the guard reports). */
  expiresAt: number;
  blockExpiresAt: number;
  isBlocked: boolean;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The rate limiter's counters in this process, with the answers of `@nestjs/throttler`'s
 * `ThrottlerStorageService` (a sliding log: each hit expires `ttl` after it was counted; over
 * the limit, the key is blocked for `blockDuration`, then counts again from one), at O(1)
 * amortized cost per request. The library filters and copies every live hit of the key on
 * each request (and spreads them into `Math.min` when not blocking), so a busy key costs time
 * in proportion to its limit; here expired hits leave from the front of a queue (a hit's
 * expiry is never earlier than the one before it, as the window of a limit is fixed), and a
 * blocked key records no hits, so a key holds at most `limit + 1` of them.
 * `local-throttler-storage.spec.ts` checks it answers as the library does.
 */
export class LocalThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly counters = new Map<string, Counter>();
  private sweep?: NodeJS.Timeout;

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.incrementNow(key, ttl, limit, blockDuration, throttlerName, Date.now());
  }

  /** `increment` at a given time (synchronous; the spec drives it). */
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    now: number,
  ): ThrottlerStorageRecord {
    this.ensureSweep();
    const id = `${throttlerName}\n${key}`;
    let c = this.counters.get(id);
    if (!c) {
      c = { hits: [], head: 0, expiresAt: now + ttl, blockExpiresAt: 0, isBlocked: false };
      this.counters.set(id, c);
    }
    prune(c, now);
    let timeToExpire = Math.ceil((c.expiresAt - now) / 1000);
    if (timeToExpire <= 0) {
      c.expiresAt = now + ttl;
      timeToExpire = Math.ceil(ttl / 1000);
    }
    if (blockDuration <= 0) {
      const isBlocked = live(c) >= limit;
      if (!isBlocked) hit(c, now + ttl);
      return {
        totalHits: live(c) + (isBlocked ? 1 : 0),
        timeToExpire,
        isBlocked,
        timeToBlockExpire: isBlocked ? Math.ceil((c.hits[c.head] - now) / 1000) : 0,
      };
    }
    if (!c.isBlocked) hit(c, now + ttl);
    if (live(c) > limit && !c.isBlocked) {
      c.isBlocked = true;
      c.blockExpiresAt = now + blockDuration;
    }
    const timeToBlockExpire = Math.ceil((c.blockExpiresAt - now) / 1000);
    if (timeToBlockExpire <= 0 && c.isBlocked) {
      c.isBlocked = false;
      c.hits = [];
      c.head = 0;
      hit(c, now + ttl);
    }
    return { totalHits: live(c), timeToExpire, isBlocked: c.isBlocked, timeToBlockExpire };
  }

  onApplicationShutdown(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
    this.counters.clear();
  }

  /** Forgets counters with no live hit, no open window and no block (as the library's sweep). */
  evictIdle(now = Date.now()): void {
    for (const [id, c] of this.counters) {
      if (c.isBlocked && c.blockExpiresAt > now) continue;
      if (c.expiresAt > now) continue;
      prune(c, now);
      if (live(c) === 0) this.counters.delete(id);
    }
  }

  private ensureSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => this.evictIdle(), SWEEP_INTERVAL_MS);
    this.sweep.unref();
  }
}

function live(c: Counter): number {
  return c.hits.length - c.head;
}

function prune(c: Counter, now: number): void {
  while (c.head < c.hits.length && c.hits[c.head] <= now) c.head++;
  // drop the consumed front once it is most of the array (amortized O(1))
  if (c.head > 64 && c.head * 2 > c.hits.length) {
    c.hits = c.hits.slice(c.head);
    c.head = 0;
  }
}

function hit(c: Counter, expiresAt: number): void {
  // a shorter window than an earlier hit's (a route with its own ttl): keep the queue ordered
  let i = c.hits.length;
  c.hits.push(expiresAt);
  while (i > c.head && c.hits[i - 1] > expiresAt) {
    c.hits[i] = c.hits[i - 1];
    c.hits[i - 1] = expiresAt;
    i--;
  }
}
