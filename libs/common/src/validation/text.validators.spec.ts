import { plainToInstance } from './transformers';
import { IsString, Length, validateSync } from './validators';
import { IsFreeText } from './text.validators';

describe('IsFreeText', () => {
  class Probe {
    @IsString()
    @Length(3, 500)
    @IsFreeText(3)
    reason!: unknown;
  }
  class One {
    @IsString()
    @Length(1, 500)
    @IsFreeText()
    reason!: unknown;
  }
  class Signed {
    @IsString()
    @Length(3, 500)
    @IsFreeText(3, { keepAsSent: true })
    reason!: unknown;
  }
  /** The body as the validation pipe reads it: transformed (trimmed), then validated. */
  const read = (reason: unknown, type: new () => object = Probe) =>
    plainToInstance(type, { reason }) as { reason: unknown };
  const errorsOf = (reason: unknown, type: new () => object = Probe) =>
    validateSync(read(reason, type)).flatMap((e) => Object.keys(e.constraints ?? {}));

  it('should refuse white space and invisible marks only, and text of fewer visible characters than the minimum', () => {
    expect(errorsOf('   ')).toContain('isFreeText');
    expect(errorsOf('\t\n \u00a0')).toContain('isFreeText');
    // too short as it is: @Length's entry alone (one entry per field for it)
    expect(errorsOf('  ab  ')).toEqual(['isLength']);
    expect(errorsOf('   \u200b\u200b\u200b ')).toEqual(['isFreeText']);
    expect(errorsOf('\u200b\u200b\u200b', One)).toEqual(['isFreeText']);
    expect(errorsOf('\ufeff\u2060\u3164', One)).toEqual(['isFreeText']);
    expect(errorsOf(7)).toEqual(expect.arrayContaining(['isFreeText', 'isString']));
    // combining marks with no base (review A F3): acute accents, variation selectors, the
    // combining grapheme joiner, Khmer's invisible vowels
    expect(errorsOf('\u0301\u0301\u0301')).toEqual(['isFreeText']);
    expect(errorsOf('\ufe0f\ufe0f\ufe0f')).toEqual(['isFreeText']);
    expect(errorsOf('\u034f\u034f\u034f')).toEqual(['isFreeText']);
    expect(errorsOf('\u17b4\u17b4\u17b4')).toEqual(['isFreeText']);
    expect(errorsOf('\u0301', One)).toEqual(['isFreeText']);
  });

  it('should take text with enough visible characters, trimmed of the white space around it', () => {
    expect(errorsOf('abc')).toEqual([]);
    expect(read('  lost phone  ').reason).toBe('lost phone');
    expect(errorsOf('  lost phone  ')).toEqual([]);
    expect(read(' test ', One).reason).toBe('test');
    expect(errorsOf('?', One)).toEqual([]);
    // a body a thekedar signs is checked the same and kept as sent
    expect(read('  left at 17:00  ', Signed).reason).toBe('  left at 17:00  ');
    expect(errorsOf('  left at 17:00  ', Signed)).toEqual([]);
    expect(errorsOf(' \u200b\u200b\u200b ', Signed)).toEqual(['isFreeText']);
    // joiners inside a script's words are text (Devanagari conjuncts)
    expect(errorsOf('क्\u200dष', One)).toEqual([]);
    // marks count with their base: three code points of Devanagari, an emoji with its selector
    expect(errorsOf('राम')).toEqual([]);
    expect(errorsOf('\u2764\ufe0f ok')).toEqual([]);
  });

  it('should name the field and say what it needs', () => {
    const [error] = validateSync(read('     '));
    expect(error.constraints?.isFreeText).toBe(
      'reason must hold at least 3 visible characters (white space and invisible marks such as U+200B do not count), and no control characters other than line breaks and tabs, nor text-direction controls (U+202A–U+202E, U+2066–U+2069)',
    );
    const [one] = validateSync(read('\u202e\u202e', One));
    expect(one.constraints?.isFreeText).toMatch(/^reason must hold a visible character/);
  });

  it('should refuse control characters and text-direction controls, and keep tabs and line breaks', () => {
    for (const reason of [
      'lost\u0000phone',
      'red \u001b[31m',
      'bell\u0007',
      'x\u202ey',
      'abc\u2066def',
      'a\u0085bcd',
    ])
      expect([JSON.stringify(reason), errorsOf(reason)]).toEqual([
        JSON.stringify(reason),
        ['isFreeText'],
      ]);
    expect(errorsOf('left at 18:00\nsite register\tp. 4')).toEqual([]);
  });
});
