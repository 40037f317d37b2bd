import { pickWith, seededRandom } from '@app/common/testing/seeded-random';
import { SerializedFrame } from '../handlers/reply';
import { MESSAGE_CATALOG, outboundProblem, RESULT } from '../protocol/messages';
import { parseInboundFrame, relayedData } from '../protocol/parse-frame';
import { gateKioskText, kioskCopyOfAnswer, KioskRole } from './kiosk-gate';
import { PlatformIdMatcher } from './platform-id-filter';

const ID = 'PLT_jjbmYWeq3o1W';
const ids = new PlatformIdMatcher([ID]);

describe('gateKioskText', () => {
  it('should let a frame without the id through untouched (same text)', () => {
    const text = JSON.stringify({ type: 'from_mobile', data: { step: 1 } });
    expect(gateKioskText(text, 'device', ids, undefined)).toBe(text);
  });

  it('should remove the id and platform-id keys for the new-protocol kiosk', () => {
    const text = JSON.stringify({
      type: 'from_mobile',
      data: { platform_id: 'x', note: ID.toLowerCase() },
    });
    expect(JSON.parse(gateKioskText(text, 'device', ids, undefined)!)).toEqual({
      type: 'from_mobile',
      data: { note: '[platform_id removed]' },
    });
  });

  it('should write the alias for the legacy hardware and keep its key names', () => {
    const text = JSON.stringify({ type: 'from_app', data: { platform_id: ID.toUpperCase() } });
    expect(JSON.parse(gateKioskText(text, 'hardware', ids, 'PLT_ALIAS_abc')!)).toEqual({
      type: 'from_app',
      data: { platform_id: 'PLT_ALIAS_abc' },
    });
  });

  it('should find the id and the key in short and long frames, ASCII or not', () => {
    for (const pad of ['', 'é', 'x'.repeat(2000)]) {
      for (const form of [ID.toUpperCase(), Buffer.from(`k=${ID}`).toString('base64')]) {
        const text = JSON.stringify({ type: 'from_mobile', data: { pad, note: form } });
        expect(gateKioskText(text, 'device', ids, undefined)).not.toContain(form);
      }
      const keyed = JSON.stringify({ type: 'from_mobile', data: { pad, PLATFORM_ID: 'x' } });
      expect(JSON.parse(gateKioskText(keyed, 'device', ids, undefined)!).data).toEqual({ pad });
    }
  });

  it('should replace a platform id the session never held, for both kiosks, long or short', () => {
    const other = 'PLT_leakedUser9999';
    for (const pad of ['', 'x'.repeat(2000)]) {
      for (const role of ['device', 'hardware'] as KioskRole[]) {
        const text = JSON.stringify({
          type: 'result',
          data: { pad, message: `enrolled as ${other.toLowerCase()}`, [other]: 1 },
        });
        const out = gateKioskText(text, role, ids, 'PLT_ALIAS_abc');
        expect(out).not.toMatch(/leakedUser9999/i);
        expect(JSON.parse(out!).data).toEqual({
          pad,
          message: 'enrolled as [platform_id removed]',
          '[platform_id removed]': 1,
        });
      }
    }
  });

  it('should drop a frame when the replacement itself would carry the id', () => {
    const text = JSON.stringify({ type: 'from_app', data: { v: ID } });
    expect(gateKioskText(text, 'hardware', ids, `again ${ID}`)).toBeUndefined();
  });
});

describe('kioskCopyOfAnswer', () => {
  it('should keep only status, code and message, bounded', () => {
    expect(
      kioskCopyOfAnswer({
        status: 'success',
        code: 7,
        message: 'm'.repeat(1000),
        platform_id: ID,
        user: { id: ID },
      }),
    ).toEqual({ status: 'success', code: 7, message: 'm'.repeat(256) });
    expect(kioskCopyOfAnswer([ID])).toEqual({});
    expect(kioskCopyOfAnswer({ status: { nested: ID } })).toEqual({});
  });

  it('should leave out the part of a platform id the cut went through', () => {
    expect(kioskCopyOfAnswer({ message: `${'m'.repeat(250)}PLT_leakedUser9999` }).message).toBe(
      'm'.repeat(250),
    );
    expect(kioskCopyOfAnswer({ message: `${'m'.repeat(240)} plt_${'x'.repeat(20)}` }).message).toBe(
      `${'m'.repeat(240)} `,
    );
    // an id that ends before the cut is the gate's to replace (the alias, for the legacy hardware)
    const whole = `${'m'.repeat(200)} ${ID} ${'m'.repeat(100)}`;
    expect(kioskCopyOfAnswer({ message: whole }).message).toBe(whole.slice(0, 256));
  });
});

describe('the kiosk gate and the protocol declarations', () => {
  it('should let every documented frame for a kiosk through untouched', () => {
    for (const spec of MESSAGE_CATALOG.filter((s) => s.direction === 'server → client')) {
      for (const role of spec.sockets.filter(
        (r): r is KioskRole => r === 'device' || r === 'hardware',
      )) {
        const text = JSON.stringify(spec.example);
        expect(gateKioskText(text, role, ids, 'PLT_ALIAS_abc')).toBe(text);
      }
    }
  });

  it("should turn the phone's result into a frame the kiosk may be sent", () => {
    const text = JSON.stringify({ ...RESULT.example, data: { status: 'success', echo: ID } });
    const gated = JSON.parse(gateKioskText(text, 'device', ids, undefined)!);
    expect(gated.platform_id).toBeUndefined();
    expect(outboundProblem('device', gated)).toBeUndefined();
    expect(JSON.stringify(gated)).not.toContain(ID);
  });

  it('should replace a base64-encoded id whole, in keys and values, for both kiosks', () => {
    const encoded = Buffer.from(`user=${ID}`).toString('base64');
    const text = JSON.stringify({ type: 'from_app', data: { blob: encoded, [encoded]: 1 } });
    expect(JSON.parse(gateKioskText(text, 'hardware', ids, 'PLT_ALIAS_abc')!)).toEqual({
      type: 'from_app',
      data: { blob: 'PLT_ALIAS_abc', PLT_ALIAS_abc: 1 },
    });
    const fromMobile = JSON.stringify({
      type: 'from_mobile',
      data: { blob: encoded, [encoded]: 1 },
    });
    expect(JSON.parse(gateKioskText(fromMobile, 'device', ids, undefined)!)).toEqual({
      type: 'from_mobile',
      data: { blob: '[platform_id removed]' },
    });
  });
});

describe('the kiosk gate on relayed frames passed on unparsed', () => {
  const rand = seededRandom(41);
  const pick = pickWith(rand);
  const KELVIN = 'PLT_kioskKelvin042';
  const held = new PlatformIdMatcher([ID, KELVIN, 'PLT_ünicode0001']);
  const forms = [
    ID,
    ID.toUpperCase(),
    'pLt_JJBMyweQ3O1w',
    KELVIN.replace(/k/gi, '\u212a'), // lower-cases to the id: ASCII but for the Kelvin signs
    KELVIN.replace('K', '\u212a'),
    'plt_ÜNICODE0001',
    Buffer.from(`x${ID}`).toString('base64'),
    Buffer.from(`xy${KELVIN.toUpperCase()}`).toString('base64url'),
    'PLT_jjbm YWeq3o1W', // split: no id
  ];
  const word = () => pick(['a', 'note', 'x y', 'é', '😀', '\u212a', 'K', 'platform', '"', '\\']);
  const key = () =>
    pick(['a', 'note', 'user', 'platform_id', 'PlatformId', 'platform-ID', 'é', pick(forms)]);
  const leaf = (): unknown =>
    pick<() => unknown>([
      () => pick(forms),
      () => `${word()}${pick(forms)}${word()}`,
      () => word(),
      () => 'x'.repeat(Math.floor(rand() * 1100)), // across the screen's length bound
      () => Math.floor(rand() * 1000) / 8,
      () => null,
    ])();
  const data = (depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (let i = Math.floor(rand() * 4); i > 0; i--)
      out[key()] = depth > 2 || rand() < 0.6 ? leaf() : data(depth + 1);
    return out;
  };
  /** The frame as a phone writes it: mostly as JSON.stringify does, else in other JSON forms. */
  const frameText = (): string => {
    const frame = { type: 'to_device', data: data(0) };
    const r = rand();
    if (r < 0.75) return JSON.stringify(frame);
    if (r < 0.85) return JSON.stringify(frame, null, 1);
    // an escape JSON.stringify does not write, in the id or elsewhere
    return JSON.stringify(frame).replace(pick(['PLT_', 'k', 'e', 'a']), (c) =>
      [...c].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    );
  };

  it("should decide exactly as on the parsed and rewritten frame, given the scan's ASCII answer", () => {
    const seen = { unparsed: 0, ascii: 0, changedAscii: 0, changedOther: 0, asIsOther: 0 };
    for (let i = 0; i < 6_000; i++) {
      const text = frameText();
      const parsed = parseInboundFrame('mobile', text);
      expect(parsed.ok).toBe(true);
      const data = (parsed as { frame: { data: unknown } }).frame.data;
      const rewritten = JSON.stringify({ type: 'from_mobile', data });
      const relayed = relayedData('mobile', text);
      for (const role of ['device', 'hardware'] as const) {
        const before = gateKioskText(rewritten, role, held, 'PLT_ALIAS_abc');
        if (before !== undefined) expect(held.test(before)).toBe(false);
        if (relayed === undefined) continue;
        const frame = SerializedFrame.relayed(relayed);
        expect(frame.text).toBe(rewritten);
        const after = gateKioskText(frame.text, role, held, 'PLT_ALIAS_abc', frame.ascii);
        expect([text, role, after]).toEqual([text, role, before]);
        if (role === 'hardware') continue;
        seen.unparsed++;
        if (frame.ascii) seen.ascii++;
        if (after !== frame.text) seen[frame.ascii ? 'changedAscii' : 'changedOther']++;
        else if (!frame.ascii) seen.asIsOther++;
      }
    }
    // the fast path met ASCII and other text, ids to scrub in both, and clean non-ASCII frames
    expect(seen.unparsed).toBeGreaterThan(4_000);
    expect(seen.ascii).toBeGreaterThan(2_000);
    expect(seen.changedAscii).toBeGreaterThan(800);
    expect(seen.changedOther).toBeGreaterThan(1_500);
    expect(seen.asIsOther).toBeGreaterThan(150);
  });

  it('should still find the id written with Kelvin signs in a frame passed on unparsed', () => {
    const kelvin = KELVIN.replace(/k/gi, '\u212a');
    for (const [form, left] of [
      [kelvin, '[platform_id removed]'],
      [`a${kelvin}b`, 'a[platform_id removed]b'],
    ]) {
      const relayed = relayedData('mobile', JSON.stringify({ type: 'to_device', data: { form } }));
      const frame = SerializedFrame.relayed(relayed!);
      expect(frame.ascii).toBe(false);
      const gated = gateKioskText(frame.text, 'device', held, undefined, frame.ascii);
      expect(JSON.parse(gated!)).toEqual({ type: 'from_mobile', data: { form: left } });
    }
  });
});
