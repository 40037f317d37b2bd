import { DomainError } from '../errors/domain-error';
import { DEFAULT_JSON_LIMITS, parseJsonBody } from './json-limits';

const codeOf = (text: string, limits = DEFAULT_JSON_LIMITS): string => {
  try {
    parseJsonBody(text, limits);
    return 'ok';
  } catch (error) {
    return (error as DomainError).code;
  }
};

describe('parseJsonBody', () => {
  it('should parse what JSON.parse parses, for I-JSON objects and arrays', () => {
    const text = '{"a":[1,-2.5e3,true,false,null,"\\u00e9\\ud83d\\ude00\\n"],"b":{"c":{}},"d":[]}';
    expect(parseJsonBody(text, DEFAULT_JSON_LIMITS)).toEqual(JSON.parse(text));
    expect(parseJsonBody(' [ ] ', DEFAULT_JSON_LIMITS)).toEqual([]);
  });

  it('should refuse each hostile shape with its own code', () => {
    expect(codeOf(`${'['.repeat(33)}${']'.repeat(33)}`)).toBe('json_too_deep');
    expect(codeOf(`${'['.repeat(32)}${']'.repeat(32)}`)).toBe('ok');
    expect(codeOf('{"a":1,"a":1}')).toBe('json_duplicate_key');
    expect(codeOf('{"a":1,"\\u0061":1}')).toBe('json_duplicate_key');
    expect(codeOf('[{"a":1},{"a":1}]')).toBe('ok');
    expect(codeOf('["\\ud800"]')).toBe('json_lone_surrogate');
    expect(codeOf('["\\udc00\\ud800"]')).toBe('json_lone_surrogate');
    expect(codeOf('["\\ud800x"]')).toBe('json_lone_surrogate');
    expect(codeOf('[1e400]')).toBe('json_number_out_of_range');
    expect(codeOf('[-1e309]')).toBe('json_number_out_of_range');
    expect(codeOf('[1e308]')).toBe('ok');
    expect(codeOf(`["${'a'.repeat(11)}"]`, { ...DEFAULT_JSON_LIMITS, maxStringLength: 10 })).toBe(
      'json_string_too_long',
    );
    expect(codeOf('{"a":1,"b":2,"c":3}', { ...DEFAULT_JSON_LIMITS, maxKeys: 2 })).toBe(
      'json_too_many_keys',
    );
  });

  it('should refuse what is not strict JSON as invalid_json', () => {
    for (const text of [
      '42',
      '"x"',
      'null',
      '{',
      '{"a":01}',
      '{"a":NaN}',
      "{'a':1}",
      '[1,]',
      '{"a":1} x',
      '["\t"]',
      '["\\x"]',
    ]) {
      expect([text, codeOf(text)]).toEqual([text, 'invalid_json']);
    }
  });

  it('should stay linear on deep input without blowing the stack', () => {
    expect(codeOf('['.repeat(1_000_000))).toBe('json_too_deep');
  });
});
