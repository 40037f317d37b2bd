import { IsInt, IsOptional, IsString, MaxLength, Min, validate } from '../validation/validators';
import { memoizeValidationMetadata } from './validation';

class BaseQuery {
  @IsOptional()
  @IsInt()
  @Min(1)
  limit?: number;
}

class NamedQuery extends BaseQuery {
  @IsString()
  @MaxLength(4)
  name!: string;
}

const build = <T extends object>(type: new () => T, fields: Partial<T>): T =>
  Object.assign(new type(), fields);

describe('memoizeValidationMetadata', () => {
  beforeAll(() => memoizeValidationMetadata());

  it('should keep validating own and inherited rules on every call', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await validate(build(NamedQuery, { name: 'ok', limit: 2 }))).toHaveLength(0);
      const errors = await validate(build(NamedQuery, { name: 'too long', limit: 0 }));
      expect(errors.map((e) => e.property).sort()).toEqual(['limit', 'name']);
    }
  });

  it('should see a rule added to a class after its lookup was remembered', async () => {
    class GrowingQuery extends BaseQuery {
      extra?: string;
    }
    expect(await validate(build(GrowingQuery, { extra: 'x' }))).toHaveLength(0);
    IsInt()(GrowingQuery.prototype, 'extra');
    const errors = await validate(build(GrowingQuery, { extra: 'x' }));
    expect(errors.map((e) => e.property)).toEqual(['extra']);
  });
});
