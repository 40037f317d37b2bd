import { ArgumentMetadata, HttpException, ValidationPipe } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { memoizeValidationMetadata, validationPipeOptions } from '../errors/validation';
import { DevicePageQuery } from '../http/device-page.query';
import { PageLimit } from '../http/page-limit';
import { FastValidationPipe } from './fast-validation.pipe';
import { Transform, Type } from './transformers';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Validate,
  ValidateNested,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from './validators';
import { seededRandom as prng } from '../testing/seeded-random';

/* eslint-disable @typescript-eslint/no-require-imports */
const { IsDefined } = require('class-validator/cjs/decorator/common/IsDefined') as {
  IsDefined: () => PropertyDecorator;
};
const { Allow } = require('class-validator/cjs/decorator/common/Allow') as {
  Allow: () => PropertyDecorator;
};
/* eslint-enable @typescript-eslint/no-require-imports */

// The kiosk registry's DTOs, as written there (libs/common imports no other library;
// libs/kiosk-registry/src/dto/kiosk.dto.spec.ts runs the same comparison on the real ones)
class ListKiosksQuery extends DevicePageQuery {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  after?: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  prefix?: string;
}

const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

class DeviceIdParam {
  @IsString()
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id must be 1-128 characters' })
  device_id!: string;
}

class RegisterDeviceDto {
  @IsString()
  @Matches(DEVICE_ID_PATTERN, { message: 'device_id must be 1-128 characters' })
  device_id!: string;

  @IsString()
  @Length(100, 16_384)
  public_key!: string;
}

class RotateKeyDto {
  @IsString()
  @Length(100, 16_384)
  public_key!: string;

  @IsString()
  @Length(3, 500)
  reason!: string;
}

class PagedQuery {
  @PageLimit()
  limit?: number;

  @IsOptional()
  @IsIn(['asc', 'desc'])
  order?: string;

  @IsOptional()
  @IsISO8601()
  since?: string;
}

class MixedDto {
  @IsDefined()
  @IsNumber()
  @Type(() => Number)
  amount!: number;

  @IsOptional()
  @Type(() => Boolean)
  flag?: boolean;

  @IsOptional()
  @Type(() => String)
  @Length(2, 3)
  code?: string;

  @Allow()
  note?: unknown;

  @IsOptional()
  @IsUUID()
  id?: string;
}

@ValidatorConstraint({ name: 'even' })
class Even implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'number' && value % 2 === 0;
  }
}

@ValidatorConstraint({ name: 'slowEven', async: true })
class SlowEven implements ValidatorConstraintInterface {
  validate(value: unknown): Promise<boolean> {
    return Promise.resolve(typeof value === 'number' && value % 2 === 0);
  }
}

class CustomDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Validate(Even)
  n?: number;

  @IsOptional()
  @MaxLength(5, { each: true })
  tags?: string;
}

class AsyncDto {
  @Type(() => Number)
  @Validate(SlowEven)
  n!: number;
}

class WithDefault {
  @IsOptional()
  @IsString()
  name?: string;

  // a field without rules: the whitelist refuses every instance
  extra = 'x';
}

class WithRuledDefault {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  size: number = 10;
}

class WithAccessor {
  @IsOptional()
  @IsString()
  get name(): string {
    return 'fixed';
  }
}

class TransformedDto {
  @IsString()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  name!: string;
}

class Inner {
  @IsString()
  a!: string;
}

class NestedDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;

  @IsOptional()
  @IsString()
  s?: string;
}

class ConditionalDto {
  @IsOptional()
  @IsString()
  kind?: string;

  @Matches(/^\d+$/, { validateIf: (o: { kind?: string }) => o.kind === 'digits' })
  @IsString()
  value!: string;
}

class ChildQuery extends DevicePageQuery {
  @IsOptional()
  @IsString()
  @Max(3)
  odd?: string;
}

const CLASSES: (new () => object)[] = [
  ListKiosksQuery,
  DevicePageQuery,
  DeviceIdParam,
  RegisterDeviceDto,
  RotateKeyDto,
  PagedQuery,
  MixedDto,
  CustomDto,
  AsyncDto,
  WithDefault,
  WithRuledDefault,
  WithAccessor,
  TransformedDto,
  NestedDto,
  ConditionalDto,
  ChildQuery,
];

const KEY = 'A'.repeat(120);
const STRINGS = [
  '1',
  '0',
  '50',
  '500',
  '501',
  '1000',
  '1001',
  '-1',
  '1.5',
  '',
  ' ',
  ' 7 ',
  '0x10',
  '1e2',
  '-0',
  'Infinity',
  'NaN',
  'abc',
  'asc',
  'desc',
  'digits',
  '123',
  'true',
  'false',
  'TEE-RDKX5-0001',
  '-bad-start',
  'a'.repeat(128),
  'a'.repeat(129),
  '\ud83d\ude00'.repeat(64),
  '\ud83d\ude00'.repeat(65),
  'é\ufe0f'.repeat(3),
  KEY,
  '2026-12-03T20:00:00Z',
  '2026-13-03',
  '3f2a9c1b-0d4e-4c6a-9f0e-1234567890ab',
  'valueOf',
  '__proto__',
];
const HOSTILE_KEYS = [
  'extra',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
];

function propertiesOf(type: new () => object): string[] {
  const names = new Set<string>();
  for (const cls of [
    ListKiosksQuery,
    RegisterDeviceDto,
    RotateKeyDto,
    PagedQuery,
    MixedDto,
    ConditionalDto,
    NestedDto,
    ChildQuery,
  ]) {
    if (type === cls || type.prototype instanceof cls || cls.prototype instanceof type) {
      for (const key of Object.keys(new cls())) names.add(key);
    }
  }
  for (const key of [
    'limit',
    'after',
    'prefix',
    'device_id',
    'public_key',
    'reason',
    'order',
    'since',
    'amount',
    'flag',
    'code',
    'note',
    'id',
    'n',
    'tags',
    'name',
    'size',
    'inner',
    's',
    'kind',
    'value',
    'odd',
  ]) {
    names.add(key);
  }
  return [...names];
}

function randomLeaf(next: () => number): unknown {
  const pick = next();
  if (pick < 0.6) return STRINGS[Math.floor(next() * STRINGS.length)];
  if (pick < 0.75) return [0, 1, 2, 4, 1.5, -0, NaN, 500, 1e21][Math.floor(next() * 9)];
  if (pick < 0.8) return next() < 0.5;
  if (pick < 0.84) return null;
  if (pick < 0.86) return undefined;
  if (pick < 0.92) return [STRINGS[Math.floor(next() * STRINGS.length)], '2'];
  if (pick < 0.95) return [];
  if (pick < 0.98) return { a: STRINGS[Math.floor(next() * STRINGS.length)] };
  return JSON.parse('{"__proto__": {"polluted": "yes"}, "a": "x"}') as unknown;
}

/** A value as a query parser (null prototype), a JSON body or a literal gives it. */
function randomValue(next: () => number, type: new () => object): unknown {
  const properties = propertiesOf(type);
  const style = next();
  const members: [string, unknown][] = [];
  const count = Math.floor(next() * 5);
  for (let i = 0; i < count; i++) {
    const key =
      next() < 0.85
        ? properties[Math.floor(next() * properties.length)]
        : HOSTILE_KEYS[Math.floor(next() * HOSTILE_KEYS.length)];
    members.push([key, randomLeaf(next)]);
  }
  if (style < 0.4) {
    // as node's querystring parses: a null prototype, own "__proto__" possible
    const value = Object.create(null) as Record<string, unknown>;
    for (const [key, leaf] of members) {
      Object.defineProperty(value, key, {
        value: leaf,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return value;
  }
  if (style < 0.8) {
    // as JSON.parse gives it: "__proto__" an own key
    const text = `{${members
      .filter(([, leaf]) => leaf === undefined || JSON.stringify(leaf) !== undefined)
      .map(([key, leaf]) => `${JSON.stringify(key)}:${JSON.stringify(leaf ?? null)}`)
      .join(',')}}`;
    return JSON.parse(text) as unknown;
  }
  const value: Record<string, unknown> = {};
  for (const [key, leaf] of members) if (key !== '__proto__') value[key] = leaf;
  return value;
}

/** A copy with the same prototypes and own keys (JSON's and the query parser's shapes). */
function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copy);
  const out = Object.create(Object.getPrototypeOf(value) as object | null) as Record<
    string,
    unknown
  >;
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, {
      value: copy((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Prototype, own keys in order and values, all the way down. */
function sameShape(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return Object.is(a, b);
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (!isDeepStrictEqual(keysA, keysB)) return false;
  return keysA.every((key) =>
    sameShape((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

function sameOutcome(library: Outcome, ours: Outcome): boolean {
  if (library.ok && ours.ok) return sameShape(library.value, ours.value);
  if (!library.ok && !ours.ok) {
    const a = library.error;
    const b = ours.error;
    if (!(a instanceof HttpException) || !(b instanceof HttpException)) {
      // a CommonError from the app's exception factory: its class, message and own fields
      return (
        Object.getPrototypeOf(a) === Object.getPrototypeOf(b) &&
        String(a) === String(b) &&
        isDeepStrictEqual({ ...(a as object) }, { ...(b as object) })
      );
    }
    return (
      a.constructor === b.constructor &&
      a.getStatus() === b.getStatus() &&
      a.message === b.message &&
      isDeepStrictEqual(a.getResponse(), b.getResponse())
    );
  }
  return false;
}

describe('FastValidationPipe', () => {
  const library = new ValidationPipe(validationPipeOptions());
  const ours = new FastValidationPipe(validationPipeOptions());
  const libraryTransform = jest.spyOn(ValidationPipe.prototype, 'transform');

  beforeAll(() => memoizeValidationMetadata());
  afterAll(() => libraryTransform.mockRestore());

  /** Runs both pipes on copies; fails with the case if they differ. Whether ours took the shortcut. */
  async function compare(value: unknown, metadata: ArgumentMetadata): Promise<boolean> {
    const forLibrary = copy(value);
    const forUs = copy(value);
    const expected = await outcome(() => library.transform(forLibrary, metadata));
    libraryTransform.mockClear();
    const actual = await outcome(async () => ours.transform(forUs, metadata));
    const shortcut = libraryTransform.mock.calls.length === 0;
    if (!sameOutcome(expected, actual) || !sameShape(forLibrary, forUs)) {
      throw new Error(
        `${metadata.metatype?.name} (${metadata.type}) on ${JSON.stringify(value)}: library ${
          expected.ok ? JSON.stringify(expected.value) : String(expected.error)
        } ${expected.ok ? '' : JSON.stringify((expected.error as HttpException).getResponse?.())}, ours ${
          actual.ok ? JSON.stringify(actual.value) : String(actual.error)
        } ${actual.ok ? '' : JSON.stringify((actual.error as HttpException).getResponse?.())}`,
      );
    }
    if (shortcut && !expected.ok) throw new Error('a refusal did not come from the library');
    return shortcut;
  }

  it('should answer as the ValidationPipe on the kiosk listing query, taking the shortcut for valid ones', async () => {
    const meta: ArgumentMetadata = { type: 'query', metatype: ListKiosksQuery, data: undefined };
    const valid = [
      {},
      { limit: '1' },
      { limit: '500' },
      { limit: ' 7 ' },
      { limit: '1e2' },
      { limit: '0x10' },
      { after: 'TEE-1', limit: '20' },
      { prefix: 'TEE', after: '' },
      { prefix: 'a'.repeat(128) },
      { prefix: '\ud83d\ude00'.repeat(128) },
    ];
    for (const value of valid) {
      const query = Object.assign(Object.create(null) as object, value);
      expect(await compare(query, meta)).toBe(true);
      expect(await compare(value, meta)).toBe(true);
    }
    const result = (await ours.transform(
      Object.assign(Object.create(null) as object, { limit: '1' }),
      meta,
    )) as ListKiosksQuery;
    expect(result).toBeInstanceOf(ListKiosksQuery);
    expect(result.limit).toBe(1);
    const refused = [
      { limit: '0' },
      { limit: '501' },
      { limit: '1.5' },
      { limit: '' },
      { limit: 'abc' },
      { limit: ['1', '2'] },
      { limit: '1', extra: 'x' },
      { after: ['a', 'b'] },
      { after: 'a'.repeat(129) },
      { prefix: { a: '1' } },
      { constructor: 'x' },
      { prototype: 'x' },
      { toString: 'x' },
      JSON.parse('{"__proto__": {"limit": "1"}}') as object,
      JSON.parse('{"limit": "1", "__proto__": "x"}') as object,
    ];
    for (const value of refused) {
      expect(await compare(value, meta)).toBe(false);
      expect(await compare(copy(Object.assign(Object.create(null), value)), meta)).toBe(false);
    }
  });

  it('should answer as the ValidationPipe on odd top-level values', async () => {
    for (const metatype of [ListKiosksQuery, RegisterDeviceDto, WithDefault, MixedDto]) {
      for (const type of ['query', 'body', 'param', 'custom'] as const) {
        for (const value of [
          undefined,
          null,
          '',
          'limit=1',
          5,
          true,
          [],
          [{ limit: '1' }],
          Buffer.from('{}'),
          new Date(0),
        ]) {
          await compare(value, { type, metatype, data: undefined });
        }
      }
    }
    for (const metatype of [String, Number, Boolean, Object, Array, undefined]) {
      await compare('5', { type: 'query', metatype, data: 'limit' });
      await compare({ a: '1' }, { type: 'body', metatype, data: undefined });
    }
  });

  it('should answer as the ValidationPipe on random valid and hostile values of many DTOs', async () => {
    const next = prng(4242);
    let shortcuts = 0;
    let cases = 0;
    for (let round = 0; round < 150; round++) {
      for (const metatype of CLASSES) {
        const type = (['query', 'body', 'param'] as const)[round % 3];
        const value = randomValue(next, metatype);
        if (await compare(value, { type, metatype, data: undefined })) shortcuts++;
        cases++;
      }
    }
    // the shortcut is taken often enough to be what these cases test
    expect(shortcuts).toBeGreaterThan(cases / 20);
  });

  it('should take the shortcut only for classes whose rules it models', async () => {
    const shortcut = async (metatype: new () => object, value: object) =>
      compare(value, { type: 'body', metatype, data: undefined });
    expect(await shortcut(MixedDto, { amount: '4', flag: 'false', code: 12, note: 'x' })).toBe(
      true,
    );
    expect(await shortcut(CustomDto, { n: '4', tags: 'abc' })).toBe(true);
    expect(await shortcut(CustomDto, { n: '3' })).toBe(false);
    expect(await shortcut(WithRuledDefault, {})).toBe(true);
    expect(await shortcut(WithRuledDefault, { size: '4' })).toBe(true);
    expect(await shortcut(ConditionalDto, { kind: 'digits', value: '12' })).toBe(true);
    expect(await shortcut(ConditionalDto, { kind: 'digits', value: 'ab' })).toBe(false);
    expect(await shortcut(ConditionalDto, { value: 'ab' })).toBe(true);
    // the library's: an async rule, a field without rules, an accessor, @Transform, nesting
    expect(await shortcut(AsyncDto, { n: '4' })).toBe(false);
    expect(await shortcut(WithDefault, { name: 'a' })).toBe(false);
    expect(await shortcut(WithAccessor, { name: 'a' })).toBe(false);
    expect(await shortcut(TransformedDto, { name: ' a ' })).toBe(false);
    expect(await shortcut(NestedDto, { s: 'a' })).toBe(false);
  });

  it('should see a rule added to a class after its first use', async () => {
    class Growing {
      @IsOptional()
      @IsString()
      name?: string;
    }
    const meta: ArgumentMetadata = { type: 'body', metatype: Growing, data: undefined };
    expect(await compare({ name: 'abcdef' }, meta)).toBe(true);
    MaxLength(3)(Growing.prototype, 'name');
    expect(await compare({ name: 'abcdef' }, meta)).toBe(false);
    expect(await compare({ name: 'abc' }, meta)).toBe(true);
    Transform(({ value }: { value: unknown }) => value)(Growing.prototype, 'name');
    expect(await compare({ name: 'abc' }, meta)).toBe(false);
  });

  it('should leave every value to the library with options it does not model', async () => {
    const options = { ...validationPipeOptions(), skipMissingProperties: true };
    const plain = new ValidationPipe(options);
    const fast = new FastValidationPipe(options);
    const meta: ArgumentMetadata = { type: 'body', metatype: RegisterDeviceDto, data: undefined };
    libraryTransform.mockClear();
    expect(sameShape(await plain.transform({}, meta), await fast.transform({}, meta))).toBe(true);
    expect(libraryTransform).toHaveBeenCalledTimes(2);
  });
});
