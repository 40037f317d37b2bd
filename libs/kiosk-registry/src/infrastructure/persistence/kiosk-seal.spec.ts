import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseStoreMacKey, StoreMac, StoreMacKey } from '@app/tlog';
import { KioskEvent } from '../../domain/kiosk-device';
import { KioskEventSequence, KioskSeal, KioskStoredEvent, KioskStoredState } from './kiosk-seal';

const signingKey = generateKeyPairSync('ed25519').privateKey;
const newKey = (): StoreMacKey =>
  parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));

const trust = {
  id: 'k1',
  deviceId: 'TEE-1',
  publicKeyPem: 'PEM',
  keyFingerprint: 'a'.repeat(64),
  status: 'active' as const,
  updatedAt: new Date('2026-01-01T00:00:00.000Z'),
};

function event(id: string, action: KioskEvent['action'] = 'registered'): KioskEvent {
  return { id, deviceId: 'TEE-1', action, actor: 'admin:1', at: trust.updatedAt };
}

/** A state bound to `e` numbered `seq`, and that event, tagged by `seal`. */
function written(seal: KioskSeal, e: KioskEvent, seq: number) {
  const state: KioskStoredState = {
    kiosk: trust,
    tag: seal.stateTag(trust, { eventId: e.id, seq }),
    eventId: e.id,
    eventSeq: seq,
  };
  const stored: KioskStoredEvent = { event: e, seq, tag: seal.eventTag(e, seq) };
  return { state, stored };
}

/** A store numbering `seqs`, its mark at `mark` tagged by `seal`. */
function sequence(seal: KioskSeal, seqs: number[], mark: number): KioskEventSequence {
  return {
    numbered: (after) => ({
      count: seqs.filter((s) => s > after).length,
      newest: seqs.length ? Math.max(...seqs) : undefined,
    }),
    mark: () => ({ seq: mark, tag: seal.markTag(mark) }),
  };
}

describe('KioskSeal', () => {
  const seal = new KioskSeal(new StoreMac({ signingKey }));

  it("should vouch for a state only while the event it names is the kiosk's newest and none after it is missing", () => {
    const { state, stored } = written(seal, event('e1'), 1);
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1], 1))).toBe('verified');
    // a later event of the kiosk: the state put back names an older one
    const later = written(seal, event('e2', 'blocked'), 2).stored;
    expect(seal.stateIntegrity(state, later, sequence(seal, [1, 2], 2))).toBe('tampered');
    // that later event deleted: the mark (or the next number, 3) says it was written
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1], 2))).toBe('tampered');
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1, 3], 3))).toBe('tampered');
    // another kiosk's event next, the store whole: fine
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1, 2], 2))).toBe('verified');
    // attack A: another kiosk's event 2, this kiosk's later event 3 (the newest) deleted with
    // its row put back: the next number after the row's exists, the store is short of its mark
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1, 2], 3))).toBe('tampered');
    // ... or an event numbered past the mark
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1, 2, 3], 2))).toBe('tampered');
    // a hole before the row's event (another kiosk's event deleted): not this kiosk's concern,
    // so a kiosk repaired past a hole (its rotation numbered after the mark) verifies
    const repaired = written(seal, event('e3', 'key_rotated'), 3);
    expect(seal.stateIntegrity(repaired.state, repaired.stored, sequence(seal, [1, 3], 3))).toBe(
      'verified',
    );
    // a mark whose tag does not verify
    const forged: KioskEventSequence = {
      numbered: () => ({ count: 0, newest: 1 }),
      mark: () => ({ seq: 1, tag: 'forged' }),
    };
    expect(seal.stateIntegrity(state, stored, forged)).toBe('tampered');
    // a newest event whose tag does not verify
    expect(seal.stateIntegrity(state, { ...stored, tag: 'forged' }, undefined)).toBe('tampered');
    // without a store-wide numbering (MongoDB): the newest event alone
    expect(seal.stateIntegrity(state, stored)).toBe('verified');
  });

  it('should read a tag from before the events were tagged as legacy only while the kiosk has no numbered event and none is missing', () => {
    const old: KioskStoredState = {
      kiosk: trust,
      tag: seal.tag(trust),
      eventId: null,
      eventSeq: null,
    };
    const none: KioskEventSequence = {
      numbered: () => ({ count: 0, newest: undefined }),
      mark: () => undefined,
    };
    expect(seal.stateIntegrity(old, undefined, none)).toBe('legacy');
    expect(seal.stateIntegrity({ ...old, tag: seal.tag(trust, true) }, undefined, none)).toBe(
      'legacy',
    );
    const since = written(seal, event('e2', 'blocked'), 1).stored;
    expect(seal.stateIntegrity(old, since, sequence(seal, [1], 1))).toBe('tampered');
    // its events deleted too: the mark says one was written
    expect(seal.stateIntegrity(old, undefined, sequence(seal, [], 1))).toBe('tampered');
    // its event 2 deleted with another kiosk's event 1 left: short of the mark
    expect(seal.stateIntegrity(old, undefined, sequence(seal, [1], 2))).toBe('tampered');
    expect(seal.stateIntegrity(old, undefined, sequence(seal, [1, 2], 2))).toBe('legacy');
    expect(seal.stateIntegrity({ ...old, tag: 'forged' }, undefined, none)).toBe('tampered');
  });

  it('should plan the re-tagging of a state and its events under the current key (legacy stays legacy), never a tampered or suspect one', () => {
    const [a, b] = [newKey(), newKey()];
    const underA = new KioskSeal(new StoreMac({ signingKey, storeMacKey: a }));
    const underB = new KioskSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    const { state, stored } = written(underA, event('e1'), 1);

    const plan = underB.retagPlan(state, 'verified', [stored]);
    expect(plan).toMatchObject({ result: 'retagged', from: a.kid });
    const retagged = {
      state: { ...state, tag: plan.stateTag },
      event: { ...stored, tag: plan.eventTags[0] },
    };
    const onlyB = new KioskSeal(new StoreMac({ signingKey, storeMacKey: b }));
    expect(onlyB.stateIntegrity(retagged.state, retagged.event)).toBe('verified');
    expect(underB.retagPlan(retagged.state, 'verified', [retagged.event])).toEqual({
      eventTags: [undefined],
      result: 'current',
    });

    expect(underB.retagPlan(state, 'verified', [stored], [a.kid])).toEqual({
      eventTags: [undefined],
      result: 'suspect',
      from: a.kid,
    });
    expect(underB.retagPlan(state, 'tampered', [stored])).toMatchObject({ result: 'tampered' });
    expect(underB.retagPlan(state, 'tampered', [stored]).stateTag).toBeUndefined();

    const legacy = { kiosk: trust, tag: underA.tag(trust, true), eventId: null, eventSeq: null };
    const legacyPlan = underB.retagPlan(legacy, 'legacy', []);
    expect(legacyPlan).toMatchObject({ result: 'retagged', from: a.kid });
    expect(onlyB.stateIntegrity({ ...legacy, tag: legacyPlan.stateTag }, undefined)).toBe('legacy');
  });

  it('should number the next event past the newest and the mark, skip a number past a deleted mark and refuse past one that does not verify', () => {
    expect(seal.nextSeq(undefined, undefined)).toEqual({ seq: 1, skipped: false });
    expect(seal.nextSeq({ seq: 3, tag: seal.markTag(3) }, 3)).toEqual({ seq: 4, skipped: false });
    // the newest event deleted with the mark left: its number stays a hole
    expect(seal.nextSeq({ seq: 3, tag: seal.markTag(3) }, 2)).toEqual({ seq: 4, skipped: false });
    // the mark deleted with it: never 3 again, which the new mark would make whole
    expect(seal.nextSeq(undefined, 2)).toEqual({ seq: 4, skipped: true });
    const { state, stored } = written(seal, event('e1'), 1);
    expect(seal.stateIntegrity(state, stored, sequence(seal, [1, 3], 3))).toBe('tampered');
    // forged, or under a key not held: never advanced from nor overwritten
    expect(seal.nextSeq({ seq: 2, tag: 'forged' }, 2)).toBe('unverified');
    const other = new KioskSeal(new StoreMac({ signingKey, storeMacKey: newKey() }));
    expect(seal.nextSeq({ seq: 2, tag: other.markTag(2) }, 2)).toBe('unverified');
  });

  it("should re-tag the store's mark under the current key, never one under an excepted key (suspect, with its number)", () => {
    const [a, b] = [newKey(), newKey()];
    const underA = new KioskSeal(new StoreMac({ signingKey, storeMacKey: a }));
    const underB = new KioskSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    const mark = { seq: 3, tag: underA.markTag(3) };
    const whole = { count: 3, newest: 3 };
    expect(underB.retagMark(mark, whole)).toEqual({
      result: 'retagged',
      seq: 3,
      from: a.kid,
      tag: underB.markTag(3),
    });
    // under an excepted key: left, listed, whether or not the numbering confirms its number
    expect(underB.retagMark(mark, whole, [a.kid])).toEqual({
      result: 'suspect',
      seq: 3,
      from: a.kid,
      confirmed: true,
    });
    expect(underB.retagMark(mark, { count: 2, newest: 3 }, [a.kid])).toMatchObject({
      result: 'suspect',
      confirmed: false,
    });
    expect(underB.retagMark({ seq: 3, tag: underB.markTag(3) }, whole)).toEqual({
      result: 'current',
      seq: 3,
    });
    expect(underB.retagMark({ seq: 4, tag: mark.tag }, whole)).toEqual({
      result: 'tampered',
      seq: 4,
    });
    expect(underB.retagMark(undefined, whole)).toBeUndefined();
  });
});
