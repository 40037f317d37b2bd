import { pickWith, seededRandom } from '@app/common/testing/seeded-random';
import { RELAYED_ROUTES, relayedData } from '../protocol/parse-frame';
import { SerializedFrame } from './reply';

const rand = seededRandom(23);
const pick = pickWith(rand);

const WORDS = ['a', 'look at the camera', 'é', '😀', '\u212a', '\u2028', '"', '\\', '\n', 'ü'];
/** Byte runs that are not UTF-8: a lone lead, a lone continuation, overlong, a surrogate, cut. */
const NOT_UTF8 = [[0xff], [0x80], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98]];

function data(depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--) {
    const r = rand();
    out[pick(WORDS) + String(i)] =
      depth < 2 && r < 0.3
        ? data(depth + 1)
        : r < 0.7
          ? Array.from({ length: Math.floor(rand() * 4) }, () => pick(WORDS)).join('')
          : Math.floor(rand() * 1e6) / 16;
  }
  return out;
}

/** The frame's bytes as a client sends them; sometimes with bytes that are not UTF-8 inside. */
function received(type: string): Buffer {
  const bytes = Buffer.from(JSON.stringify({ type, data: data(0) }));
  if (rand() < 0.7) return bytes;
  // inside the first string value after the head, so the text stays a relayed frame
  const at = bytes.indexOf(':"', bytes.indexOf('"data":') + 7);
  if (at < 0) return bytes;
  return Buffer.concat([
    bytes.subarray(0, at + 2),
    Buffer.from(pick(NOT_UTF8)),
    bytes.subarray(at + 2),
  ]);
}

describe('SerializedFrame.wire', () => {
  it('should give exactly the UTF-8 of the text, or nothing, on random frames', () => {
    const seen = { ascii: 0, other: 0, refused: 0 };
    for (let i = 0; i < 10_000; i++) {
      const { role, from: type, to } = pick(RELAYED_ROUTES);
      let bytes = received(type);
      // a Buffer that is a view into a larger one, as `ws` hands them over
      if (rand() < 0.5) bytes = Buffer.concat([Buffer.from('xyz'), bytes]).subarray(3);
      const text = bytes.toString('utf8');
      const relayed = relayedData(role, text, bytes);
      if (relayed === undefined) continue;
      expect(relayed.type).toBe(to);
      const frame = SerializedFrame.relayed(relayed);
      const wire = frame.wire();
      const utf8 = Buffer.from(frame.text);
      if (wire === undefined) {
        // only the frames whose bytes the decoding changed (U+FFFD in their place)
        expect([text, bytes.equals(Buffer.from(text))]).toEqual([text, false]);
        seen.refused++;
        continue;
      }
      expect([text, wire.toString('hex')]).toEqual([text, utf8.toString('hex')]);
      seen[frame.ascii ? 'ascii' : 'other']++;
    }
    expect(seen.ascii).toBeGreaterThan(1_000);
    expect(seen.other).toBeGreaterThan(3_000);
    expect(seen.refused).toBeGreaterThan(1_000);
  });

  it('should have no bytes to give for a frame without received bytes, and copy those it has', () => {
    const text = '{"type":"to_device","data":{"a":1}}';
    expect(SerializedFrame.relayed(relayedData('mobile', text)!).wire()).toBe(undefined);
    const bytes = Buffer.from(text);
    const wire = SerializedFrame.relayed(relayedData('mobile', text, bytes)!).wire();
    expect(wire?.toString()).toBe('{"type":"from_mobile","data":{"a":1}}');
    // the received bytes are copied, not shared
    bytes.fill(0x20);
    expect(wire?.toString()).toBe('{"type":"from_mobile","data":{"a":1}}');
  });
});
