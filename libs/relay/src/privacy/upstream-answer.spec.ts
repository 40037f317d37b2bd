import { registerSecrets } from '@app/common';
import { clientCopyOfAnswer } from './upstream-answer';

describe('clientCopyOfAnswer', () => {
  const key = 'upstream-answer-spec-key';
  beforeAll(() => registerSecrets([key], '[api key redacted]'));

  it('should leave out image members and echoed JPEG/PNG base64, at any depth', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    expect(
      clientCopyOfAnswer({
        status: 'failure',
        image_base64: 'anything',
        faceImage: { a: 1 },
        list: [{ note: `saw /9j/4AAQSkZJRg== here` }, png.toString('base64')],
        uri: `data:image/png;base64,${png.toString('base64')}`,
      }),
    ).toEqual({
      status: 'failure',
      list: [{ note: 'saw [image removed] here' }, '[image removed]'],
      uri: '[image removed]',
    });
  });

  it('should replace a configured secret in keys and strings, and keep everything else', () => {
    expect(
      clientCopyOfAnswer({ message: `bad key ${key}!`, [key]: [key, 3, null, true], n: 1.5 }),
    ).toEqual({
      message: 'bad key [api key redacted]!',
      '[api key redacted]': ['[api key redacted]', 3, null, true],
      n: 1.5,
    });
    expect(clientCopyOfAnswer(`${key}`)).toBe('[api key redacted]');
    expect(clientCopyOfAnswer(null)).toBeNull();
  });
});
