import { IsString, Length, validateSync } from './validators';
import { NotBlank } from './text.validators';

describe('NotBlank', () => {
  class Probe {
    @IsString()
    @Length(3, 500)
    @NotBlank(3)
    reason!: unknown;
  }
  const errorsOf = (reason: unknown) =>
    validateSync(Object.assign(new Probe(), { reason })).flatMap((e) =>
      Object.keys(e.constraints ?? {}),
    );

  it('should refuse white space only, and text shorter than the minimum once trimmed', () => {
    expect(errorsOf('   ')).toEqual(['notBlank']);
    expect(errorsOf('\t\n \u00a0')).toEqual(['notBlank']);
    expect(errorsOf('  ab  ')).toEqual(['notBlank']);
    expect(errorsOf(7)).toEqual(expect.arrayContaining(['notBlank', 'isString']));
  });

  it('should take text of the minimum once trimmed, white space around it kept', () => {
    expect(errorsOf('abc')).toEqual([]);
    expect(errorsOf('  lost phone  ')).toEqual([]);
  });

  it('should say how many characters it needs', () => {
    const [error] = validateSync(Object.assign(new Probe(), { reason: '     ' }));
    expect(error.constraints?.notBlank).toBe(
      'reason must hold at least 3 characters besides white space, and no control characters (NUL, escapes) or text-direction overrides',
    );
  });

  it('should refuse control characters and text-direction overrides, and keep tabs and line breaks', () => {
    for (const reason of [
      'lost\u0000phone',
      'red \u001b[31m',
      'bell\u0007',
      'x\u202ey',
      'a\u0085b',
    ])
      expect([JSON.stringify(reason), errorsOf(reason)]).toEqual([
        JSON.stringify(reason),
        ['notBlank'],
      ]);
    expect(errorsOf('left at 18:00\nsite register\tp. 4')).toEqual([]);
  });
});
