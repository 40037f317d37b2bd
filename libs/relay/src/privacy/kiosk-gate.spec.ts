import { MESSAGE_CATALOG, outboundProblem, RESULT } from '../protocol/messages';
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
