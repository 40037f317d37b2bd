import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { createValidationPipe, validationPipeOptions } from '@app/common';
import { DeviceIdParam, ListKiosksQuery, RegisterDeviceDto, RotateKeyDto } from './kiosk.dto';

/** The app's pipe (its shortcut for accepted values) against Nest's, on the real DTOs. */
describe('kiosk DTOs through the app validation pipe', () => {
  const ours = createValidationPipe();
  const library = new ValidationPipe(validationPipeOptions());

  const KEY = `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(120)}\n-----END PUBLIC KEY-----`;
  const LEAVES: unknown[] = [
    '1',
    '0',
    '50',
    '500',
    '501',
    '1.5',
    '',
    ' 7 ',
    '1e2',
    'abc',
    'TEE-RDKX5-0001',
    '-bad',
    'a'.repeat(128),
    'a'.repeat(129),
    '\ud83d\ude00'.repeat(65),
    KEY,
    'stolen',
    5,
    true,
    null,
    ['1', '2'],
    { a: '1' },
  ];
  const KEYS = [
    'limit',
    'after',
    'prefix',
    'device_id',
    'public_key',
    'reason',
    'extra',
    '__proto__',
    'constructor',
  ];

  async function outcome(run: () => Promise<unknown>) {
    try {
      const value = (await run()) as Record<string, unknown>;
      return {
        ok: true,
        proto: Object.getPrototypeOf(value) as unknown,
        entries: Object.entries(value),
      };
    } catch (error) {
      // the error as the exception filter reads it: its class, message and own fields
      const e = error as Error;
      return { ok: false, type: e.constructor.name, message: e.message, fields: { ...e } };
    }
  }

  it('should answer as Nest’s ValidationPipe on every pair of keys and values', async () => {
    let cases = 0;
    for (const metatype of [ListKiosksQuery, DeviceIdParam, RegisterDeviceDto, RotateKeyDto]) {
      const meta: ArgumentMetadata = { type: 'query', metatype, data: undefined };
      for (const a of KEYS) {
        for (const b of KEYS) {
          for (const leaf of LEAVES) {
            // as node's query parser gives it (null prototype) and as JSON.parse does
            const make = () => {
              const value = JSON.parse(
                `{${JSON.stringify(a)}:${JSON.stringify(leaf)},${JSON.stringify(b)}:${JSON.stringify(LEAVES[(cases * 7) % LEAVES.length])}}`,
              ) as object;
              return cases % 2 === 0 ? Object.assign(Object.create(null) as object, value) : value;
            };
            const expected = await outcome(() => library.transform(make(), meta));
            const actual = await outcome(() => ours.transform(make(), meta));
            if (!isDeepStrictEqual(actual, expected)) {
              throw new Error(
                `${metatype.name} ${a}/${b}=${JSON.stringify(leaf)}: ${JSON.stringify(expected)} vs ${JSON.stringify(actual)}`,
              );
            }
            cases++;
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(5000);
  });
});
