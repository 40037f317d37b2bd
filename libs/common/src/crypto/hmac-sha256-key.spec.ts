import { createHmac, randomBytes } from 'node:crypto';
import { HmacSha256Key } from './hmac-sha256-key';

describe('HmacSha256Key', () => {
  const texts = [
    '',
    'a',
    'x'.repeat(55),
    'x'.repeat(64),
    '{"deviceId":"d-1","geo":{"accuracyM":12.5,"lat":28.6,"lng":77.2}}',
    'ünïcödé — 日本語 😀',
    'é'.repeat(700),
    'y'.repeat(5000),
    'short again',
  ];

  it("should give createHmac's digest for keys of 0 to 130 bytes and texts of any length", () => {
    for (let size = 0; size <= 130; size += size < 70 ? 1 : 13) {
      const key = randomBytes(size);
      const hmac = new HmacSha256Key(key);
      for (const text of texts) {
        expect(hmac.hex(text)).toBe(createHmac('sha256', key).update(text).digest('hex'));
        expect(hmac.base64url(text)).toBe(
          createHmac('sha256', key).update(text).digest('base64url'),
        );
      }
    }
  });

  it('should match its own hex digest only, and nothing that is not 64 lowercase hex characters', () => {
    const key = randomBytes(32);
    const hmac = new HmacSha256Key(key);
    const text = '{"packetId":"p-1"}';
    const good = createHmac('sha256', key).update(text).digest('hex');
    expect(hmac.matchesHex(text, good)).toBe(true);
    expect(hmac.matchesHex(`${text} `, good)).toBe(false);
    const flipped = `${good.slice(0, 63)}${good[63] === '0' ? '1' : '0'}`;
    expect(hmac.matchesHex(text, flipped)).toBe(false);
    expect(hmac.matchesHex(text, good.toUpperCase())).toBe(good === good.toUpperCase());
    expect(hmac.matchesHex(text, good.slice(0, 62))).toBe(false);
    expect(hmac.matchesHex(text, `${good}00`)).toBe(false);
    expect(hmac.matchesHex(text, '')).toBe(false);
    // a character whose latin1 write is one of the digest's bytes is not that character
    const i = good.search(/[a-f]/);
    const wide = String.fromCharCode(0x100 + good.charCodeAt(i));
    expect(hmac.matchesHex(text, good.slice(0, i) + wide + good.slice(i + 1))).toBe(false);
    // and the key's buffers are not left holding the last answer
    expect(hmac.matchesHex(text, good)).toBe(true);
  });

  it("should match its own base64url tag only (StoreMac's form), whatever the tag's length", () => {
    const key = randomBytes(32);
    const hmac = new HmacSha256Key(key);
    for (const text of texts) {
      const tag = createHmac('sha256', key).update(text).digest('base64url');
      expect(hmac.matchesBase64url(text, tag)).toBe(true);
      expect(hmac.matchesBase64url(`${text} `, tag)).toBe(false);
      expect(
        hmac.matchesBase64url(text, `${tag.slice(0, -1)}${tag.endsWith('A') ? 'B' : 'A'}`),
      ).toBe(false);
      expect(hmac.matchesBase64url(text, tag.slice(1))).toBe(false);
      expect(hmac.matchesBase64url(text, `${tag}=`)).toBe(false);
      expect(hmac.matchesBase64url(text, '')).toBe(false);
    }
  });
});
