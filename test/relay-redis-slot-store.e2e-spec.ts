import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { BusUnavailableError } from '@app/relay/bus/relay-bus';
import { RedisRelayBus } from '@app/relay/bus/redis-relay-bus';
import { PrivateRedis } from './support/processes';

const RESYNC_MS = 60_000;
const SLOT_TTL_MS = 30_000;
const EPOCH_KEY = 'mdai:relay:epoch';
const RUN_KEY = 'mdai:relay:run';
const SLOTS_KEY = 'mdai:relay:slots';
/** Rate-limit counters and other keys a shared Redis holds beside the relay's. */
const OTHER_KEYS = 20_000;

/** Asks until the answer is the wanted one (a state to reach, not a time to meet). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never: ${what}`);
}

/** The calls of each command Redis ran since the last CONFIG RESETSTAT (scripts' own included). */
async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
    calls[match[1]] = Number(match[2]);
  return calls;
}

/**
 * Review of the run check (`mdai:relay:run`): a store that came back from a snapshot drops only
 * the slot keys it tracks (never a scan of a shared keyspace), a snapshot from before the run was
 * recorded opens the window too, a Redis user that may not run INFO is named at connect, and
 * the scripts go by EVALSHA.
 */
describe('relay slot store on Redis (e2e)', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  const open: Redis[] = [];

  /** A bus on its own connections (`user`/`password`: an ACL user), its epoch check done. */
  async function bus(options: { username?: string; password?: string } = {}) {
    const pub = new Redis(redis.url, { ...options, maxRetriesPerRequest: 1 });
    const sub = new Redis(redis.url, { ...options, maxRetriesPerRequest: 1 });
    open.push(pub, sub);
    return new RedisRelayBus(pub, sub, RESYNC_MS);
  }

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    admin = new Redis(redis.url);
  });
  beforeEach(async () => {
    await admin.flushall();
    await admin.config('RESETSTAT');
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.kill();
  });

  it('should drop only the tracked slot keys when the run changed, scanning nothing', async () => {
    const relay = await bus();
    await eventually(async () => (await admin.exists(EPOCH_KEY)) === 1, 'epoch set');
    expect(await relay.claimSlot('s1', 'mobile', 'h1', SLOT_TTL_MS)).toBe('claimed');
    expect(await relay.claimSlot('s2', 'device', 'h2', SLOT_TTL_MS)).toBe('claimed');
    await relay.releaseSlot('s2', 'device', 'h2');
    expect(await admin.zrange(SLOTS_KEY, 0, -1)).toEqual(['mdai:relay:slot:s1:mobile']);
    // a shared Redis: rate-limit counters and others, some under the relay's own prefix
    for (let i = 0; i < OTHER_KEYS; i += 1000) {
      const batch = admin.pipeline();
      for (let j = i; j < i + 1000; j++) batch.set(`mdai:rl:${j}`, String(j));
      await batch.exec();
    }
    await admin.set('mdai:relay:used:s9:mobile', '1');
    const epoch = await admin.get(EPOCH_KEY);
    // the store came back from a snapshot: another Redis process's run recorded
    await admin.set(RUN_KEY, 'f'.repeat(40));
    await admin.config('RESETSTAT');

    expect(await relay.claimSlot('s3', 'mobile', 'h3', SLOT_TTL_MS)).toEqual({
      resyncMs: expect.any(Number),
    });
    expect(await admin.exists('mdai:relay:slot:s1:mobile')).toBe(0);
    expect(await admin.exists(SLOTS_KEY)).toBe(0);
    expect(await admin.get(EPOCH_KEY)).not.toBe(epoch);
    expect(await admin.get(RUN_KEY)).not.toBe('f'.repeat(40));
    expect(await admin.dbsize()).toBe(OTHER_KEYS + 4);
    expect(await admin.get(`mdai:rl:${OTHER_KEYS - 1}`)).toBe(String(OTHER_KEYS - 1));
    expect(await admin.exists('mdai:relay:used:s9:mobile')).toBe(1);
    const calls = await commandCalls(admin);
    expect(calls.scan).toBeUndefined();
    expect(calls.keys).toBeUndefined();
    expect(calls.del).toBe(2);
  });

  it("should hold no one off with an earlier release's slot key (not in the set) while the store resyncs, scanning nothing", async () => {
    const relay = await bus();
    await eventually(async () => (await admin.exists(EPOCH_KEY)) === 1, 'epoch set');
    // slot keys an instance from before the slots set took, brought back by a snapshot
    await admin.set('mdai:relay:slot:old1:device', 'gone-kiosk', 'PX', SLOT_TTL_MS);
    await admin.set('mdai:relay:slot:old2:mobile', 'gone-phone', 'PX', SLOT_TTL_MS);
    // and one of this release, tracked, re-asserted by its live holder after the run change
    expect(await relay.claimSlot('s1', 'mobile', 'h1', SLOT_TTL_MS)).toBe('claimed');
    await admin.set(RUN_KEY, 'f'.repeat(40));
    await admin.config('RESETSTAT');

    // a new kiosk's claim waits out the window, as for a free slot (before: refused, held)
    expect(await relay.claimSlot('old1', 'device', 'k2', SLOT_TTL_MS)).toEqual({
      resyncMs: expect.any(Number),
    });
    // the live phone re-asserts its slot over the old key (before: lost, its socket closed)
    expect(
      await relay.refreshSlots(
        [
          { sessionId: 'old2', role: 'mobile', holder: 'h2' },
          { sessionId: 's1', role: 'mobile', holder: 'h1' },
        ],
        SLOT_TTL_MS,
      ),
    ).toEqual([]);
    expect(await admin.get('mdai:relay:slot:old2:mobile')).toBe('h2');
    expect(await admin.zscore(SLOTS_KEY, 'mdai:relay:slot:old2:mobile')).not.toBeNull();
    // a tracked slot re-asserted during the window is held as ever
    expect(await relay.claimSlot('s1', 'mobile', 'h9', SLOT_TTL_MS)).toBe('held');
    expect(await relay.claimSlot('old2', 'mobile', 'h9', SLOT_TTL_MS)).toBe('held');
    const calls = await commandCalls(admin);
    expect(calls.scan).toBeUndefined();
    expect(calls.keys).toBeUndefined();

    // after the window an earlier release's live key holds its slot as before
    await admin.del('mdai:relay:resync');
    await admin.set('mdai:relay:slot:old3:device', 'old-release-kiosk', 'PX', SLOT_TTL_MS);
    expect(await relay.claimSlot('old3', 'device', 'k3', SLOT_TTL_MS)).toBe('held');
    expect(
      await relay.refreshSlots([{ sessionId: 'old3', role: 'device', holder: 'k3' }], SLOT_TTL_MS),
    ).toEqual([{ sessionId: 'old3', role: 'device', holder: 'k3' }]);
  });

  it('should open the window when the epoch is there and no run was recorded (a snapshot from before the run)', async () => {
    await admin.set(EPOCH_KEY, 'from-an-old-snapshot');
    await admin.set('mdai:relay:slot:s1:device', 'gone', 'PX', SLOT_TTL_MS);
    await admin.zadd(SLOTS_KEY, Date.now() + SLOT_TTL_MS, 'mdai:relay:slot:s1:device');
    const relay = await bus();
    await eventually(async () => (await admin.exists(RUN_KEY)) === 1, 'run recorded');
    expect(await admin.exists('mdai:relay:resync')).toBe(1);
    expect(await admin.exists('mdai:relay:slot:s1:device')).toBe(0);
    expect(await admin.get(EPOCH_KEY)).not.toBe('from-an-old-snapshot');
    expect(await relay.claimSlot('s1', 'device', 'h1', SLOT_TTL_MS)).toEqual({
      resyncMs: expect.any(Number),
    });
  });

  it('should hand out slots at once on a fresh Redis (no epoch, no run) and trim expired members', async () => {
    const relay = await bus();
    await eventually(async () => (await admin.exists(EPOCH_KEY)) === 1, 'epoch set');
    expect(await admin.exists('mdai:relay:resync')).toBe(0);
    expect(await relay.claimSlot('s1', 'mobile', 'h1', 1)).toBe('claimed');
    await eventually(
      async () => (await admin.exists('mdai:relay:slot:s1:mobile')) === 0,
      'expired',
    );
    expect(await relay.claimSlot('s2', 'mobile', 'h2', SLOT_TTL_MS)).toBe('claimed');
    expect(await admin.zrange(SLOTS_KEY, 0, -1)).toEqual(['mdai:relay:slot:s2:mobile']);
    expect(
      await relay.refreshSlots([{ sessionId: 's2', role: 'mobile', holder: 'h2' }], 5000),
    ).toEqual([]);
    expect(
      await relay.refreshSlots([{ sessionId: 's2', role: 'mobile', holder: 'h9' }], 5000),
    ).toEqual([{ sessionId: 's2', role: 'mobile', holder: 'h9' }]);
  });

  it('should send the scripts by EVALSHA, their text once', async () => {
    const relay = await bus();
    await eventually(async () => (await admin.exists(EPOCH_KEY)) === 1, 'epoch set');
    for (let i = 0; i < 20; i++) {
      expect(await relay.claimSlot(`s${i}`, 'mobile', `h${i}`, SLOT_TTL_MS)).toBe('claimed');
      await relay.releaseSlot(`s${i}`, 'mobile', `h${i}`);
    }
    const calls = await commandCalls(admin);
    // the check, 20 claims, 20 releases (a NOSCRIPT EVALSHA followed by its EVAL per script)
    expect(calls.evalsha + (calls.eval ?? 0)).toBeGreaterThanOrEqual(41);
    expect(calls.eval ?? 0).toBeLessThanOrEqual(3);
  });

  it('should name the missing INFO permission once at connect when the Redis user lacks @dangerous', async () => {
    await admin.call(
      'ACL',
      'SETUSER',
      'relay',
      'on',
      '>relay-pw',
      '~*',
      '&*',
      '+@all',
      '-@dangerous',
    );
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      const relay = await bus({ username: 'relay', password: 'relay-pw' });
      await eventually(async () => error.mock.calls.length > 0, 'an error logged');
      const messages = error.mock.calls.map((call) => String(call[1]));
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/may not run INFO \(ACL category @dangerous\)/);
      expect(messages[0]).toMatch(/ACL SETUSER <user> \+info/);
      expect(messages[0]).not.toMatch(/relay-pw/);
      await expect(relay.claimSlot('s1', 'mobile', 'h1', SLOT_TTL_MS)).rejects.toBeInstanceOf(
        BusUnavailableError,
      );
      // the permission granted: claims answer again (the epoch missing: the resync window)
      await admin.call('ACL', 'SETUSER', 'relay', '+info');
      expect(await relay.claimSlot('s1', 'mobile', 'h1', SLOT_TTL_MS)).toEqual({
        resyncMs: expect.any(Number),
      });
      expect(error.mock.calls).toHaveLength(1);
    } finally {
      error.mockRestore();
      await admin.call('ACL', 'DELUSER', 'relay');
    }
  });

  it("should log once, by its error code alone, a legacy app's used mark Redis refused at a refresh", async () => {
    // an ACL user that may write the slot store but not the used marks
    await admin.call(
      'ACL',
      'SETUSER',
      'slots-only',
      'on',
      '>slots-pw',
      '~mdai:relay:slot*',
      '~mdai:relay:epoch',
      '~mdai:relay:resync',
      '~mdai:relay:run',
      '&*',
      '+@all',
    );
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const session = 'sess-7f3a9c-secret';
    try {
      const relay = await bus({ username: 'slots-only', password: 'slots-pw' });
      await eventually(async () => (await admin.exists(EPOCH_KEY)) === 1, 'epoch set');
      expect(await relay.claimSlot(session, 'mobile', 'h1', SLOT_TTL_MS)).toBe('claimed');
      const held = { sessionId: session, role: 'mobile' as const, holder: 'h1', usedTtlMs: 60_000 };
      expect(await relay.refreshSlots([held], SLOT_TTL_MS)).toEqual([]);
      expect(await relay.refreshSlots([held], SLOT_TTL_MS)).toEqual([]);
      expect(await admin.exists(`mdai:relay:used:${session}:mobile`)).toBe(0);
      const refused = warn.mock.calls.filter((call) => /used mark/.test(String(call[1])));
      expect(refused).toHaveLength(1);
      expect(refused[0][1]).toMatch(/\(NOPERM\)/);
      expect(JSON.stringify(refused)).not.toMatch(/sess-7f3a9c|mdai:relay:used|slots-pw/);
    } finally {
      warn.mockRestore();
      await admin.call('ACL', 'DELUSER', 'slots-only');
    }
  });
});
