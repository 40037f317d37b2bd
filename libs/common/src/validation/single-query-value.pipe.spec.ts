import { IsArray, IsOptional, IsString } from 'class-validator';
import { CommonError } from '../errors/common.errors';
import { SingleQueryValuePipe } from './single-query-value.pipe';

class PageQuery {
  @IsOptional() @IsString() from?: string;
  @IsOptional() @IsArray() @IsString({ each: true }) deviceId?: string[];
}

describe('SingleQueryValuePipe', () => {
  const pipe = new SingleQueryValuePipe();
  const query = { type: 'query' as const, metatype: PageQuery };

  it('should let a field the DTO declares an array be given more than once', () => {
    const value = { deviceId: ['a', 'b'], from: '2026-01-01' };
    expect(pipe.transform(value, query)).toBe(value);
  });

  it('should refuse any other field given more than once, naming each', () => {
    let error: unknown;
    try {
      pipe.transform({ from: ['a', 'b'], to: ['c', 'd'], deviceId: ['x', 'y'] }, query);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CommonError);
    expect((error as CommonError).code).toBe('validation_failed');
    expect((error as CommonError).errors).toEqual([
      { field: 'from', message: 'must be given once' },
      { field: 'to', message: 'must be given once' },
    ]);
  });

  it('should refuse a repeated @Query(name) parameter and leave bodies and params alone', () => {
    expect(() =>
      pipe.transform(['a', 'b'], { type: 'query', data: 'from', metatype: String }),
    ).toThrow(CommonError);
    const body = { from: ['a', 'b'] };
    expect(pipe.transform(body, { type: 'body', metatype: PageQuery })).toBe(body);
  });
});
