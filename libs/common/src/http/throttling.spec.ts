import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { SkipThrottle, Throttle, ThrottlerGuard, ThrottlerModuleOptions } from '@nestjs/throttler';
import { LocalThrottlerStorage } from './local-throttler-storage';
import { normalizeIp } from '@nestjs/throttler/dist/ip';
import { AppThrottlerGuard, credentialOf, throttlerIpKey } from './throttling';
import type { Request } from 'express';

class Routes {
  plain() {}
  @Throttle({ ip: { limit: 2, ttl: 30_000 } })
  tight() {}
  @SkipThrottle({ credential: true })
  noCredential() {}
  @Throttle({ ip: { limit: () => 3 } })
  computed() {}
}

function options(): ThrottlerModuleOptions {
  return {
    throttlers: [
      { name: 'ip', ttl: 60_000, limit: 4 },
      {
        name: 'credential',
        ttl: 60_000,
        limit: 3,
        skipIf: (ctx) => credentialOf(ctx.switchToHttp().getRequest<Request>()) === undefined,
        getTracker: (req) => credentialOf(req as Request) ?? '',
      },
    ],
    generateKey: (_ctx, tracker, name) => `${name}:${tracker}`,
  };
}

/** Runs one request through a guard; returns the headers it set and how it ended. */
async function pass(guard: ThrottlerGuard, handler: keyof Routes, key?: string, ip = '10.1.2.3') {
  const headers: Record<string, string> = {};
  const req = { ip, headers: key ? { 'x-api-key': key } : {} };
  const res = {
    setHeader: (name: string, value: string) => (headers[name] = value),
    header: (name: string, value: unknown) => (headers[name] = String(value)),
  };
  const context = new ExecutionContextHost([req, res], Routes, Routes.prototype[handler]);
  context.setType('http');
  try {
    return { allowed: await guard.canActivate(context), headers };
  } catch (error) {
    return { refused: (error as { code?: string; message: string }).message, headers };
  }
}

describe('AppThrottlerGuard', () => {
  it("should count, set headers and refuse exactly as the library's guard on every kind of route", async () => {
    const ours = new AppThrottlerGuard(options(), new LocalThrottlerStorage());
    const theirs = new AppThrottlerGuard(options(), new LocalThrottlerStorage());
    await ours.onModuleInit();
    await theirs.onModuleInit();
    // the library's canActivate (what AppThrottlerGuard ran per request before)
    const library = ThrottlerGuard.prototype.canActivate;
    theirs.canActivate = (context) => library.call(theirs, context);
    const script: [keyof Routes, string | undefined][] = [
      ['plain', 'key-a'],
      ['tight', 'key-a'],
      ['noCredential', 'key-b'],
      ['computed', undefined],
      ['tight', 'key-c'],
      ['plain', 'key-a'],
      ['noCredential', 'key-a'],
      ['plain', 'key-a'],
      ['computed', 'key-d'],
      ['plain', undefined],
    ];
    // IPv6 clients of one /64 share a counter (the library's normalizeIp)
    for (const ip of ['2001:db8:0:1::5', '2001:db8:0:1::6', '::ffff:10.1.2.3']) {
      expect(await pass(ours, 'plain', undefined, ip)).toEqual(
        await pass(theirs, 'plain', undefined, ip),
      );
    }
    const outcomes: unknown[] = [];
    for (const [handler, key] of script) {
      const a = await pass(ours, handler, key);
      const b = await pass(theirs, handler, key);
      expect([handler, key, a]).toEqual([handler, key, b]);
      outcomes.push(a.allowed ?? a.refused);
    }
    // the script reaches both limits, so the comparison covered refusals too
    expect(outcomes).toContain(true);
    expect(outcomes.some((o) => typeof o === 'string' && o.startsWith('Too many requests'))).toBe(
      true,
    );
  });

  it('should key a client IP exactly as the library’s normalizeIp does', () => {
    const ips = [
      ...['127.0.0.1', '10.1.2.3', '0.0.0.0', '255.255.255.255', '192.168.001.1', '256.1.1.1'],
      ...['1.2.3', '1.2.3.4.5', '1.2.3.4 ', ' 1.2.3.4', '01.2.3.4', '1.2.3.4%eth0', '', 'abc'],
      ...['::ffff:127.0.0.1', '::FFFF:10.1.2.3', '::ffff:256.0.0.1', '::ffff:1.2.3', '::ffff:'],
      ...['::ffff:01.2.3.4', '0:0:0:0:0:ffff:1.2.3.4', '::ffff:7f00:1', '::1', '::', 'fe80::1%lo'],
      ...['2001:db8:0:1::5', '2001:DB8:0:1:2:3:4:5', '2001:db8::ffff:1.2.3.4', ':::1', '1::2::3'],
    ];
    for (const prefix of [undefined, 48, 64, 128]) {
      for (const ip of ips) {
        expect([ip, prefix, throttlerIpKey(ip, prefix)]).toEqual([
          ip,
          prefix,
          normalizeIp(ip, prefix),
        ]);
      }
    }
  });
});
