import { createValidationPipe, DomainError } from '@app/common';
import { httpStatusOf } from '@app/api/errors/error-status';
import { SyncRequestDto } from './sync.dto';
import { checkSyncRequest } from './sync-request.check';

const packet = { payload: { packetId: 'x' }, signature: 'ab'.repeat(32) };

/** What the global ValidationPipe answers for the DTO: the checker must answer the same. */
async function throughPipe(body: unknown): Promise<{ status: number; body: unknown }> {
  try {
    await createValidationPipe().transform(body, { type: 'body', metatype: SyncRequestDto });
    return { status: 200, body: undefined };
  } catch (error) {
    const e = error as DomainError;
    return {
      status: httpStatusOf(e) ?? 0,
      body: { code: e.code, message: e.message, errors: e.errors },
    };
  }
}

function throughCheck(body: unknown): { status: number; body: unknown } {
  try {
    checkSyncRequest(body, Number.MAX_SAFE_INTEGER);
    return { status: 200, body: undefined };
  } catch (error) {
    const e = error as DomainError;
    return {
      status: httpStatusOf(e) ?? 0,
      body: { code: e.code, message: e.message, errors: e.errors },
    };
  }
}

function caught(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('nothing thrown');
}

describe('checkSyncRequest', () => {
  it.each<[string, unknown]>([
    ['a valid batch', { packets: [packet, packet] }],
    ['an empty batch', { packets: [] }],
    ['no packets', {}],
    ['an array body', []],
    ['an array body with items', [1, { packets: [] }]],
    ['packets as a string', { packets: 'x' }],
    ['packets null', { packets: null }],
    ['packets a number', { packets: 3 }],
    ['packets an object', { packets: { payload: {} } }],
    ['a number packet', { packets: [packet, 1] }],
    ['a null packet', { packets: [null] }],
    ['a string packet', { packets: ['p'] }],
    ['an array packet', { packets: [[]] }],
    ['an empty packet', { packets: [{}] }],
    ['wrong types', { packets: [{ payload: 1, signature: 2 }] }],
    [
      'an array payload, long signature',
      { packets: [{ payload: [], signature: 'a'.repeat(129) }] },
    ],
    ['a null payload', { packets: [packet, { payload: null, signature: 'ab' }] }],
    ['a string payload', { packets: [{ payload: 'x', signature: 'ab' }] }],
    ['a signature of 128', { packets: [{ payload: {}, signature: 'a'.repeat(128) }] }],
    ['an extra packet field', { packets: [{ ...packet, extra: 1 }] }],
    ['an extra top field', { packets: [], extra: 1 }],
    ['an extra top field null', { packets: [], extra: null }],
    ['a packet without a payload', { packets: [{ signature: 'ab' }] }],
    ['a null signature', { packets: [{ payload: {}, signature: null }] }],
    ['an extra packet field null', { packets: [{ ...packet, extra: null }] }],
    ['packets an object without fields', { packets: { extra: 1 } }],
    ['extra fields at both levels', { zz: 1, packets: [{ ...packet, a: 1 }], aa: 2 }],
    ['5,000 packets', { packets: Array(5000).fill(packet) }],
    ['5,001 packets', { packets: Array(5001).fill(packet) }],
    ['5,001 bad packets', { packets: Array(5001).fill(1) }],
  ])('should answer %s as the ValidationPipe does', async (_, body) => {
    expect(throughCheck(body)).toEqual(await throughPipe(body));
  });

  it('should refuse more packets than the configured limit with 413 naming it, before looking at them', () => {
    expect(() => checkSyncRequest({ packets: Array(3).fill(1) }, 2)).toThrow(
      expect.objectContaining({
        code: 'too_many_packets',
        message: 'A batch holds at most 2 packets',
      }),
    );
    expect(throughCheck({ packets: [packet, packet] })).toEqual({ status: 200, body: undefined });
    expect(
      httpStatusOf(caught(() => checkSyncRequest({ packets: Array(501).fill(packet) }, 500))),
    ).toBe(413);
  });

  it('should not name a count limit when packets is not an array', () => {
    expect(throughCheck({ packets: {} }).body).toEqual({
      code: 'validation_failed',
      message: 'The request is invalid',
      errors: [
        { field: 'packets', message: 'must be an array' },
        { field: 'packets.payload', message: 'is required' },
        { field: 'packets.signature', message: 'is required' },
      ],
    });
  });

  it('should hand the packets over as they were sent', () => {
    const packets = [packet, { payload: { b: 1 }, signature: '' }];
    expect(checkSyncRequest({ packets }, 500).packets).toBe(packets);
  });
});
