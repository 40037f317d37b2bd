import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import { SqliteStore } from '@app/persistence';
import {
  AttendanceHistory,
  FraudFinding,
  PacketObservation,
  PacketRule,
  RuleContext,
} from './domain/packet-rule';
import { FraudSettings } from './fraud.config';
import { FraudMetrics } from './fraud.metrics';
import { FraudService } from './fraud.service';
import { SqliteFraudEventRepository } from './infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { ImpossibleTravelRule } from './rules/impossible-travel.rule';
import { RapidRepeatRule } from './rules/rapid-repeat.rule';

const SETTINGS: FraudSettings = {
  maxSpeedKmh: 120,
  geofenceSlackM: 0,
  rapidRepeatSeconds: 60,
  sharedDeviceMaxWorkers: 3,
  sharedDeviceWindowSeconds: 86_400,
  unattributedPerMinute: 60,
  legacyTagging: true,
};
const T0 = Date.parse('2026-03-02T08:00:00Z');

function packet(packetId: string, atSeconds: number, type: PacketObservation['type']) {
  return {
    packetId,
    deviceId: 'dev-1',
    workerId: 'wrk-1',
    siteId: 'site-1',
    type,
    timestamp: new Date(T0 + atSeconds * 1000),
    geo: { lat: 1, lng: 1, accuracyM: 5 },
  } satisfies PacketObservation;
}

/** A rule that only notes what `previousOf` answers for each screened packet and one other. */
class AskingRule extends PacketRule {
  readonly name = 'asking';
  asked: unknown[] = [];
  outside: unknown[] = [];

  constructor(private readonly other: PacketObservation) {
    super();
  }

  async evaluate(packets: PacketObservation[], ctx: RuleContext): Promise<FraudFinding[]> {
    this.asked = packets.map((p) => ctx.history.previousOf(p));
    this.outside = [ctx.history.previousOf(this.other), ctx.history.previousOf(this.other)];
    return [];
  }
}

describe('FraudService.screen: the previous packets the rules see', () => {
  let dir: string;
  let store: SqliteStore;
  let events: SqliteFraudEventRepository;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-screen-'));
    store = new SqliteStore(join(dir, 'fraud.sqlite'));
    events = new SqliteFraudEventRepository(store);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should hand the rules each screened packet’s looked-up predecessor as it is, and look up another packet once', async () => {
    const earlier = packet('p-0', 0, 'check_in');
    const first = packet('p-1', 10, 'check_in'); // 10 s after p-0: a rapid repeat
    const second = packet('p-2', 20, 'check_out');
    const other = packet('p-9', 5, 'check_out');
    const answers = new Map<string, PacketObservation | undefined>([
      ['p-1', earlier],
      ['p-2', first],
      ['p-9', undefined],
    ]);
    const lookups: string[][] = [];
    const history: AttendanceHistory = {
      previousOfEach: (packets) => {
        lookups.push(packets.map((p) => p.packetId));
        return Promise.resolve(packets.map((p) => answers.get(p.packetId)));
      },
      workersOnDevice: () => Promise.resolve([]),
      establishedDeviceOf: (deviceId) => Promise.resolve(deviceId),
    };
    const asking = new AskingRule(other);
    const sut = new FraudService(
      events,
      [new ImpossibleTravelRule(SETTINGS), new RapidRepeatRule(SETTINGS), asking],
      new ManualClock(new Date(T0 + 60_000)),
      new FraudMetrics(),
      SETTINGS,
    );

    const recorded = await sut.screen([first, second], { history, sites: new Map() });

    // in hand: the very observations, no promise to await
    expect(asking.asked).toHaveLength(2);
    expect(asking.asked[0]).toBe(earlier);
    expect(asking.asked[1]).toBe(first);
    // outside the batch: one lookup of its own, its answer kept
    expect(asking.outside[0]).toBeInstanceOf(Promise);
    expect(asking.outside[1]).toBe(asking.outside[0]);
    await expect(asking.outside[0]).resolves.toBeUndefined();
    expect(lookups).toEqual([['p-1', 'p-2'], ['p-9']]);
    // the rules judged from the same answers: p-1 is a rapid repeat of p-0, p-2 is not
    expect(recorded.map((e) => [e.type, e.packetId])).toEqual([['rapid_repeat', 'p-1']]);
    const stored = await events.listRecent({ deviceId: 'dev-1', limit: 10 });
    expect(stored.map((e) => [e.type, e.packetId, e.detail])).toEqual([
      ['rapid_repeat', 'p-1', 'check_in 10 s after check_in p-0 (< 60 s)'],
    ]);
  });
});

describe('FraudService.recordAll: a failed write gives its minute back', () => {
  let dir: string;
  let store: SqliteStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-flood-'));
    store = new SqliteStore(join(dir, 'fraud.sqlite'));
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should record the packet_flood a failed write would have, when it is retried in the same minute', async () => {
    const events = new SqliteFraudEventRepository(store);
    const sut = new FraudService(events, [], new ManualClock(new Date(T0)), new FraudMetrics(), {
      ...SETTINGS,
      devicePerMinute: 2,
    });
    const refusals = ['p-1', 'p-2', 'p-3'].map((packetId) => ({
      type: 'packet_id_conflict' as const,
      deviceId: 'dev-1',
      workerId: 'wrk-1',
      packetId,
      detail: 'another packet under this id',
    }));
    // the database refuses every fraud event (a store failing the write)
    store.db.exec(
      "CREATE TRIGGER fault BEFORE INSERT ON fraud_events BEGIN SELECT RAISE(ABORT, 'fault'); END",
    );
    // the store's refusal, an Error of this file's realm whichever spec of the worker opened
    // SQLite first (test/support/sqlite-error-realm.js)
    await expect(sut.recordAll(refusals)).rejects.toThrow('fault');
    await expect(sut.recordAll(refusals)).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_TRIGGER',
    });
    store.db.exec('DROP TRIGGER fault');

    const recorded = await sut.recordAll(refusals);

    // two within the budget, and the third distinct packet past it floods (it did not: the
    // failed write had counted the three packets, so the retry's were seen before)
    expect(recorded.map((e) => [e.type, e.packetId])).toEqual([
      ['packet_id_conflict', 'p-1'],
      ['packet_id_conflict', 'p-2'],
      ['packet_flood', undefined],
    ]);
  });
});
