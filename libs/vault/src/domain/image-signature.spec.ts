import { checkedImage, signatureOf } from './image-signature';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const WEBP = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([9, 8, 7, 6]),
  Buffer.from('WEBPVP8 '),
]);

/** A source that yields `pieces` and records how many were asked for, and whether it was stopped. */
function source(pieces: Buffer[]) {
  const seen = { pulled: 0, returned: false };
  const iterable: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        Promise.resolve(
          seen.pulled < pieces.length
            ? { done: false as const, value: pieces[seen.pulled++] }
            : { done: true as const, value: undefined },
        ),
      return: () => {
        seen.returned = true;
        return Promise.resolve({ done: true as const, value: undefined });
      },
    }),
  };
  return { iterable, seen };
}

/** One-byte pieces of `bytes`. */
const bytewise = (bytes: Buffer) => [...bytes].map((b) => Buffer.from([b]));

async function collect(iterable: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of iterable) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

describe('image signatures', () => {
  it.each([
    ['image/jpeg', JPEG],
    ['image/png', PNG],
    ['image/webp', WEBP],
  ])('should take a %s that starts with its signature', (type, bytes) => {
    expect(signatureOf(type, bytes)).toBe('match');
  });

  it.each([
    ['image/jpeg', PNG],
    ['image/png', JPEG],
    ['image/webp', JPEG],
    ['image/jpeg', Buffer.from('not really a jpeg')],
    // RIFF but not WEBP (a WAV file)
    ['image/webp', Buffer.concat([WEBP.subarray(0, 8), Buffer.from('WAVEfmt ')])],
  ])('should refuse a %s that starts otherwise', (type, bytes) => {
    expect(signatureOf(type, bytes)).toBe('mismatch');
  });

  it('should ask for more while the bytes so far agree, and tell a mismatch at its first byte', () => {
    expect(signatureOf('image/png', PNG.subarray(0, 5))).toBe('more');
    expect(signatureOf('image/jpeg', Buffer.alloc(0))).toBe('more');
    expect(signatureOf('image/png', Buffer.from([0x89, 0x51]))).toBe('mismatch');
  });

  it('should check no other type', () => {
    for (const type of ['application/octet-stream', 'image/gif', 'image/heic']) {
      expect(signatureOf(type, Buffer.from('anything'))).toBe('match');
    }
  });
});

describe('checkedImage', () => {
  it.each([
    ['image/jpeg', JPEG],
    ['image/png', PNG],
    ['image/webp', WEBP],
  ])('should give a %s sent a byte at a time back whole', async (type, bytes) => {
    const { iterable } = source(bytewise(bytes));
    const checked = await checkedImage(iterable, type);
    expect(checked).toBeDefined();
    expect((await collect(checked!)).equals(bytes)).toBe(true);
  });

  it('should read no more than the first piece when it decides', async () => {
    const { iterable, seen } = source([JPEG, Buffer.from('rest'), Buffer.from('more')]);
    const checked = await checkedImage(iterable, 'image/jpeg');
    expect(seen.pulled).toBe(1);
    expect((await collect(checked!)).toString('latin1')).toBe(JPEG.toString('latin1') + 'restmore');
  });

  it('should refuse at the first piece that differs, leaving the rest unread and the source open', async () => {
    const { iterable, seen } = source([Buffer.from([0xff]), Buffer.from('x'), Buffer.from('y')]);
    expect(await checkedImage(iterable, 'image/jpeg')).toBeUndefined();
    expect(seen).toEqual({ pulled: 2, returned: false });
  });

  it('should refuse a body that ends before its signature does (an empty one too)', async () => {
    expect(await checkedImage(source([PNG.subarray(0, 4)]).iterable, 'image/png')).toBeUndefined();
    expect(await checkedImage(source([]).iterable, 'image/jpeg')).toBeUndefined();
  });

  it('should pass other types through unread', async () => {
    const { iterable, seen } = source([Buffer.from('bytes')]);
    expect(await checkedImage(iterable, 'application/octet-stream')).toBe(iterable);
    expect(seen.pulled).toBe(0);
  });

  it('should stop the source when its reader stops early, as a for await over it would', async () => {
    const { iterable, seen } = source([JPEG, Buffer.from('a'), Buffer.from('b')]);
    const checked = await checkedImage(iterable, 'image/jpeg');
    for await (const piece of checked!) {
      expect(piece).toBe(JPEG);
      break;
    }
    // the first piece came from the check; the source was not asked again, but is stopped
    expect(seen).toEqual({ pulled: 1, returned: true });
    const again = source([JPEG, Buffer.from('a'), Buffer.from('b')]);
    const second = await checkedImage(again.iterable, 'image/jpeg');
    let n = 0;
    for await (const _ of second!) if (++n === 2) break;
    expect(again.seen).toEqual({ pulled: 2, returned: true });
  });
});
