import { jcs } from './jcs';

describe('jcs', () => {
  it('should sort members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(jcs(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('should serialize numbers as ECMAScript does (RFC 8785 appendix B samples)', () => {
    // eslint-disable-next-line no-loss-of-precision -- the RFC's own sample, rounded on purpose
    expect(jcs([333333333.33333329, 1e30, 4.5, 2e-3, 0.000001, 1e-7, -0, 9007199254740992])).toBe(
      '[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0,9007199254740992]',
    );
  });

  it('should emit no whitespace and keep nesting', () => {
    expect(jcs({ b: [1, { d: true, c: null }], a: 'x' })).toBe(
      '{"a":"x","b":[1,{"c":null,"d":true}]}',
    );
  });

  it('should serialize any well-formed string exactly as JSON.stringify does', () => {
    const pieces = [
      'a',
      'Z',
      ' ',
      '"',
      '\\',
      '/',
      '\u0000',
      '\u001f',
      '\u007f',
      '\n',
      'é',
      '\u2028',
      '\ud83d\ude00',
      '\uffff',
    ];
    let seed = 17;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    for (let i = 0; i < 2000; i++) {
      let text = '';
      for (let n = next() % 12; n > 0; n--) text += pieces[next() % pieces.length];
      expect(jcs(text)).toBe(JSON.stringify(text));
      expect(jcs({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
    }
    expect(jcs('ab'.repeat(32))).toBe(`"${'ab'.repeat(32)}"`);
    expect(() => jcs('x\udc00')).toThrow(TypeError);
    expect(() => jcs({ ['\ud800x']: 1 })).toThrow(TypeError);
  });

  it('should refuse values JSON cannot carry', () => {
    expect(() => jcs({ a: NaN })).toThrow(TypeError);
    expect(() => jcs({ a: Infinity })).toThrow(TypeError);
    expect(() => jcs('\ud800')).toThrow(TypeError);
    expect(() => jcs(BigInt(1))).toThrow(TypeError);
  });
});
