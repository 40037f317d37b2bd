import { base64Fragments, PlatformIdMatcher, REDACTED_PLATFORM_ID } from './platform-id-filter';

const ID = 'PLT_jjbmYWeq3o1W';
// eslint-disable-next-line no-control-regex -- every character outside ASCII, by code
const NON_ASCII = /[^\x00-\x7f]/;

describe('PlatformIdMatcher', () => {
  const matcher = new PlatformIdMatcher([ID]);

  it("should find a digits-only id's suffix after a disguised underscore, never as a bare number", () => {
    const digits = new PlatformIdMatcher(['PLT_1765135200']);
    for (const text of [
      'PLT%5F1765135200',
      'PLT\uff3f1765135200',
      'P\u200bLT_1765135200',
      'plt%5f1765135200',
    ])
      expect([text, digits.test(text)]).toEqual([text, true]);
    for (const text of ['{"ts":1765135200123}', '1765135200', 'at 1765135200 s'])
      expect([text, digits.test(text)]).toEqual([text, false]);
  });

  it('should find the id in any case', () => {
    for (const text of [ID, ID.toUpperCase(), ID.toLowerCase(), `x ${ID.toUpperCase()} y`])
      expect(matcher.test(text)).toBe(true);
    expect(matcher.test('PLT_jjbmYWeq3o1')).toBe(false);
  });

  it('should find the id base64- and base64url-encoded at every byte alignment', () => {
    for (const prefix of ['', 'a', 'ab', 'abc', 'some text before ']) {
      for (const form of [ID, ID.toUpperCase(), ID.toLowerCase()]) {
        const bytes = Buffer.from(`${prefix}${form} and after`);
        expect(matcher.test(bytes.toString('base64'))).toBe(true);
        expect(matcher.test(bytes.toString('base64url'))).toBe(true);
      }
    }
  });

  it('should not find it in unrelated base64 or in protocol words', () => {
    const other = Buffer.from('PLT_somebodyElse99 and more text').toString('base64');
    expect(matcher.test(other)).toBe(false);
    expect(matcher.test('{"type":"joined","role":"hardware","data":{}}')).toBe(false);
  });

  it('should replace plain forms in place and encoded strings whole', () => {
    expect(matcher.replaceIn(`hi ${ID.toUpperCase()}!`, 'ALIAS')).toBe('hi ALIAS!');
    expect(matcher.replaceIn(Buffer.from(`x${ID}`).toString('base64'), 'ALIAS')).toBe('ALIAS');
  });

  it('should scrub keys, values and nested strings, dropping platform-id keys when asked', () => {
    const value = {
      platform_id: 'anything',
      [ID.toLowerCase()]: 1,
      nested: [{ note: `id ${ID}` }, Buffer.from(ID).toString('base64')],
    };
    expect(matcher.scrub(value, REDACTED_PLATFORM_ID, true)).toEqual({
      nested: [{ note: `id ${REDACTED_PLATFORM_ID}` }, REDACTED_PLATFORM_ID],
    });
    expect(matcher.scrub(value, 'ALIAS', false)).toEqual({
      platform_id: 'anything',
      ALIAS: 1,
      nested: [{ note: 'id ALIAS' }, 'ALIAS'],
    });
  });

  it('should know every id it was given, and none when empty', () => {
    const two = new PlatformIdMatcher([ID, 'PLT_secondUser0077']);
    expect(two.test('plt_seconduser0077')).toBe(true);
    expect(two.test(ID)).toBe(true);
    expect(new PlatformIdMatcher([]).test(ID)).toBe(false);
  });

  it('should derive fragments only from whole groups of id bytes', () => {
    const fragments = base64Fragments(ID);
    expect(fragments.length).toBeGreaterThanOrEqual(3);
    for (const fragment of fragments) expect(fragment.length % 4).toBe(0);
  });

  it('should never screen as clean a text the full search finds an id in', () => {
    const two = new PlatformIdMatcher([ID, 'PLT_Kelvin0042x', 'PLT_ünicode0001']);
    const forms = [
      ID,
      ID.toUpperCase(),
      'pLt_JJBMyweQ3O1w',
      Buffer.from(`ab${ID}`).toString('base64'),
      Buffer.from(`a${ID.toUpperCase()}`).toString('base64url'),
      'PLT_\u212Aelvin0042x', // the Kelvin sign lower-cases to an ASCII k
      'plt_ÜNICODE0001',
      'PLT_kelvin0042X',
    ];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const filler = () =>
      JSON.stringify({ n: random(), s: 'x'.repeat(Math.floor(random() * 1500)) }).slice(1, -1);
    for (let i = 0; i < 400; i++) {
      const form = forms[i % forms.length];
      const holding = i % 3 === 0 ? filler() : `${filler()}${form}${filler()}`;
      const text = random() < 0.5 ? holding : holding.slice(0, 900);
      if (two.test(text)) expect(two.surelyClean(text, false)).toBe(false);
      expect(two.surelyClean(text, true) && !two.surelyClean(text, false)).toBe(false);
      // told the text is ASCII (when it is), the screen answers the same without looking
      if (!NON_ASCII.test(text))
        for (const idKey of [false, true])
          expect(two.surelyClean(text, idKey, true)).toBe(two.surelyClean(text, idKey));
    }
    for (const form of forms) expect(two.surelyClean(`{"v":"${form}"}`, false)).toBe(false);
    // it does rule out short ASCII text without any of them, and finds the key when asked
    expect(two.surelyClean('{"type":"from_mobile","data":{"step":1}}', true)).toBe(true);
    expect(two.surelyClean('{"PlatForm_id":1}', true)).toBe(false);
    expect(two.surelyClean('{"PlatForm_id":1}', false)).toBe(true);
    expect(new PlatformIdMatcher([]).surelyClean('{"platform":1}', false)).toBe(true);
  });

  it('should never screen as clean, with or without anyId, the hex and suffix forms the full search finds', () => {
    const digits = 'PLT_1765135200';
    const matcher3 = new PlatformIdMatcher([ID, digits]);
    const hex = (id: string) => Buffer.from(id).toString('hex');
    const forms = [
      hex(ID),
      hex(ID).toUpperCase(),
      hex(ID).replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c)),
      ID.slice(4),
      ID.slice(4).toUpperCase(),
      `x_${digits.slice(4)}`,
      `PLT%5F${digits.slice(4)}`,
      `plt%5f${digits.slice(4)}`,
      hex(digits),
      'Plt_jjbmYWeq3o1W',
    ];
    for (const form of forms)
      for (const anyId of [false, true])
        for (const text of [form, `{"note":"at ${form} now"}`]) {
          expect(matcher3.test(text)).toBe(true);
          expect(matcher3.surelyClean(text, false, true, anyId)).toBe(false);
          expect(matcher3.surelyClean(text, true, false, anyId)).toBe(false);
        }
    // a bare number equal to a digits-only suffix is not an id form: passed either way
    for (const anyId of [false, true])
      expect(matcher3.surelyClean(`{"ts":${digits.slice(4)}}`, false, true, anyId)).toBe(true);
  });
});
