import { DomainError } from '../errors/domain-error';
import { seededRandom } from '../testing/seeded-random';
import {
  bodyItemsText,
  DEFAULT_JSON_LIMITS,
  JsonLimits,
  parseJsonBody,
  parseJsonText,
} from './json-limits';

const outcomeOf = (parse: () => unknown): { code: string; value?: unknown } => {
  try {
    return { code: 'ok', value: parse() };
  } catch (error) {
    return { code: (error as DomainError).code };
  }
};

/**
 * The code `parseJsonBody` answers for the UTF-8 bytes of `text` ('ok' or its refusal), after
 * checking that it answers the same in pieces of 8 bytes (arrays of more than one item parsed
 * in several pieces) and as `parseJsonText`, and that a value it gives is JSON.parse's.
 */
const codeOf = (text: string, limits = DEFAULT_JSON_LIMITS): string => {
  const outcome = outcomeOf(() => parseJsonBody(Buffer.from(text), limits));
  const others = [
    outcomeOf(() => parseJsonBody(Buffer.from(text), limits, 8)),
    outcomeOf(() => parseJsonText(text, limits)),
  ];
  const oracle = outcome.code === 'ok' ? JSON.stringify(JSON.parse(text)) : undefined;
  // expect's deep comparison only where they differ (20,000 texts below)
  for (const other of others) {
    if (
      other.code !== outcome.code ||
      JSON.stringify(other.value) !== JSON.stringify(outcome.value) ||
      (oracle !== undefined && JSON.stringify(outcome.value) !== oracle)
    )
      expect([text, other, JSON.stringify(outcome.value)]).toEqual([text, outcome, oracle]);
  }
  return outcome.code;
};

/** `parseJsonBody` of the bytes of `text`, checked as `codeOf` does. */
const parsed = (text: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown => {
  codeOf(text, limits);
  return parseJsonBody(Buffer.from(text), limits);
};

describe('parseJsonBody', () => {
  it('should parse what JSON.parse parses, for I-JSON objects and arrays', () => {
    const text = '{"a":[1,-2.5e3,true,false,null,"\\u00e9\\ud83d\\ude00\\n"],"b":{"c":{}},"d":[]}';
    expect(parsed(text)).toEqual(JSON.parse(text));
    expect(parsed(' [ ] ')).toEqual([]);
    const ascii =
      '{ "n" : -0.5E-2 , "s":"a\\"\\u00e9" ,"a":[ 1 , {"b":[]} ,"\\n"] , "o":{"p":[true]},"e":[ ]}';
    expect(parsed(ascii)).toEqual(JSON.parse(ascii));
  });

  it('should refuse each hostile shape with its own code', () => {
    expect(codeOf(`${'['.repeat(33)}${']'.repeat(33)}`)).toBe('json_too_deep');
    expect(codeOf(`${'['.repeat(32)}${']'.repeat(32)}`)).toBe('ok');
    expect(codeOf('{"a":1,"a":1}')).toBe('json_duplicate_key');
    expect(codeOf('{"a":1,"\\u0061":1}')).toBe('json_duplicate_key');
    expect(codeOf('[{"a":1},{"a":1}]')).toBe('ok');
    expect(codeOf('{"__proto__":{"admin":true}}')).toBe('json_reserved_key');
    expect(codeOf('{"geo":{"lat":1,"constructor":{}}}')).toBe('json_reserved_key');
    expect(codeOf('[{"\\u005f_proto__":1}]')).toBe('json_reserved_key');
    expect(codeOf('{"prototype":1}')).toBe('json_reserved_key');
    expect(codeOf('{"proto":1,"Constructor":2}')).toBe('ok');
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

describe('parseJsonBody on the paths it takes for speed', () => {
  it('should find a repeated name in a large object, and read escaped names and hex digits', () => {
    const members = Array.from({ length: 40 }, (_, i) => `"m${i}":${i}`);
    expect(codeOf(`{${members.join(',')}}`)).toBe('ok');
    expect(codeOf(`{${members.join(',')},"m3":1}`)).toBe('json_duplicate_key');
    expect(codeOf(`{${members.join(',')},"\\u006d39":1}`)).toBe('json_duplicate_key');
    expect(codeOf('{"\\u00C9":1,"\\u00c9":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"a\\"b":1,"a\\u0022b":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"ab":1,"a\\u0062c":2}')).toBe('ok');
    expect(codeOf('["\\u00g0"]')).toBe('invalid_json');
    expect(codeOf('["\\u00A"]')).toBe('invalid_json');
    expect(codeOf('["\\uD83D\\uDE00"]')).toBe('ok');
  });

  it("should compare each object's names only with its own, nested or not, few or many", () => {
    const many = (prefix: string) =>
      Array.from({ length: 20 }, (_, i) => `"${prefix}${i}":${i}`).join(',');
    for (const [text, code] of [
      ['{"a":{"b":1},"b":2}', 'ok'],
      ['{"a":{"a":1},"b":{"a":2,"b":3}}', 'ok'],
      ['{"x":[{"a":1,"q":{"a":1}},{"a":2}],"a":3}', 'ok'],
      ['{"a":{"b":1},"a":2}', 'json_duplicate_key'],
      ['{"a":{"b":1,"c":{"b":1},"b":2}}', 'json_duplicate_key'],
      ['{"x":[{"a":1,"q":{"a":1}},{"a":2}],"a":3,"x":1}', 'json_duplicate_key'],
      [`{${many('k')},"n":{${many('k')}},"z":1}`, 'ok'],
      [`{"n":{${many('k')}},"k1":1,"k2":{"k1":2}}`, 'ok'],
      [`{${many('k')},"n":{${many('k')}},"k3":1}`, 'json_duplicate_key'],
      [`{"n":{${many('k')},"o":{"k19":1},"k19":1}}`, 'json_duplicate_key'],
      ['{"o":{"a\\u0062":1},"ab":2}', 'ok'],
      ['{"o":{"a\\u0062":1,"ab":2}}', 'json_duplicate_key'],
    ]) {
      expect([text, codeOf(text)]).toEqual([text, code]);
    }
  });

  it('should check the range of long numbers and exponents', () => {
    expect(codeOf(`[${'9'.repeat(300)}]`)).toBe('ok');
    expect(codeOf(`[${'9'.repeat(320)}]`)).toBe('json_number_out_of_range');
    expect(codeOf(`[${'9'.repeat(5000)}]`)).toBe('json_number_out_of_range');
    expect(codeOf('[1.5E+308, -2e-400, 0.1e1]')).toBe('ok');
    expect(codeOf('[1E309]')).toBe('json_number_out_of_range');
    expect(codeOf('[-]')).toBe('invalid_json');
    expect(codeOf('[1.]')).toBe('invalid_json');
  });

  it('should accept exactly what JSON.parse accepts, for mutations of a valid body', () => {
    const body = JSON.stringify({
      packets: Array.from({ length: 3 }, (_, i) => ({
        payload: { packetId: `p-${i}`, geo: { lat: 1.5, lng: -2e-3, accuracyM: 10 }, ok: true },
        signature: 'ab\u00e9\\"',
        extra: [null, false, [], {}],
      })),
    });
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'e', '-', '.', '0', ' ', 'u', 'n'];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      let text = body;
      for (let m = 0; m <= next(3); m++) {
        const at = next(text.length);
        const c = alphabet[next(alphabet.length)];
        const kind = next(3);
        text =
          kind === 0
            ? text.slice(0, at) + c + text.slice(at)
            : kind === 1
              ? text.slice(0, at) + text.slice(at + 1)
              : text.slice(0, at) + c + text.slice(at + 1);
      }
      let parses = true;
      try {
        // the top level must be an object or an array (as body-parser's strict)
        if (typeof JSON.parse(text) !== 'object' || JSON.parse(text) === null) continue;
      } catch {
        parses = false;
      }
      const code = codeOf(text);
      // a mutation JSON.parse accepts may still break an I-JSON rule (a repeated name…)
      if (parses) expect([text, code === 'invalid_json']).toEqual([text, false]);
      else expect([text, code === 'ok']).toEqual([text, false]);
    }
  });
});

describe('parseJsonBody of bodies that are not ASCII', () => {
  it('should parse names and values with é, 中 and emoji, raw and escaped, as JSON.parse does', () => {
    for (const text of [
      '{"é":"é","中文":"中文","😀":"😀"}',
      '{"\\u00e9":"\\u00e9","\\u4e2d":"\\u4e2d","\\ud83d\\ude00":"\\uD83D\\uDE00"}',
      '{"a é":[" 中 ","😀\\n😀",{"ü":{"ß":["\\u00fc"]}}],"n":-1.5e3,"t":true}',
      '{"packets":["é","中",{"😀":1}],"e":[],"s":"€\\"€"}',
      '["é",{"中":"😀"}]',
      `{"k":"${'é中😀'.repeat(2000)}"}`,
      `{${Array.from({ length: 40 }, (_, i) => `"é${i}中":"😀${i}"`).join(',')}}`,
    ]) {
      expect([text.slice(0, 60), parsed(text)]).toEqual([text.slice(0, 60), JSON.parse(text)]);
    }
  });

  it('should find a name repeated raw and escaped, and count a string in UTF-16 units', () => {
    expect(codeOf('{"é":1,"\\u00e9":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"\\u00e9":1,"é":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"😀":1,"\\ud83d\\ude00":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"中":1,"中":2}')).toBe('json_duplicate_key');
    expect(codeOf('{"é":1,"e":2,"é ":3,"ée":4}')).toBe('ok');
    const many = Array.from({ length: 40 }, (_, i) => `"中${i}":${i}`).join(',');
    expect(codeOf(`{${many},"\\u4e2d39":1}`)).toBe('json_duplicate_key');
    expect(codeOf(`{${many},"中39 ":1}`)).toBe('ok');
    const max = (maxStringLength: number) => ({ ...DEFAULT_JSON_LIMITS, maxStringLength });
    // é and 中 are one UTF-16 unit each (2 and 3 bytes), 😀 two (4 bytes)
    expect(codeOf('["é中"]', max(2))).toBe('ok');
    expect(codeOf('["é中é"]', max(2))).toBe('json_string_too_long');
    expect(codeOf('["😀"]', max(2))).toBe('ok');
    expect(codeOf('["😀"]', max(1))).toBe('json_string_too_long');
    expect(codeOf('["😀é"]', max(2))).toBe('json_string_too_long');
    expect(codeOf('{"é中😀":1}', max(4))).toBe('ok');
    expect(codeOf('{"é中😀":1}', max(3))).toBe('json_string_too_long');
    // a raw character after an escaped high surrogate
    expect(codeOf('["\\ud83dé"]')).toBe('json_lone_surrogate');
    expect(codeOf('["\\ud83d😀"]')).toBe('json_lone_surrogate');
    // outside strings, a non-ASCII character is not JSON
    expect(codeOf('{"a":1}\u00a0')).toBe('invalid_json');
    expect(codeOf('{"a":é}')).toBe('invalid_json');
    expect(codeOf('\ufeff{"a":1}')).toBe('invalid_json');
  });

  it('should refuse a string with a lone surrogate of its own, not read it as U+FFFD', () => {
    expect(outcomeOf(() => parseJsonText('{"a":"\ud800"}', DEFAULT_JSON_LIMITS)).code).toBe(
      'json_lone_surrogate',
    );
    expect(outcomeOf(() => parseJsonText('{"a":"x\udc00"}', DEFAULT_JSON_LIMITS)).code).toBe(
      'json_lone_surrogate',
    );
  });
});

/**
 * The string token's rules one character at a time (the loop `parseJsonBody` ran before it
 * took plain runs in one regexp step): the oracle of the differential case below. Returns
 * the token's value and the index after its closing quote, or the code of the first rule
 * broken, in text order.
 */
function referenceString(
  text: string,
  at: number,
  max: number,
): { value: string; end: number } | string {
  const simple: Record<string, string> = {
    '"': '"',
    '\\': '\\',
    '/': '/',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
  };
  let value = '';
  let length = 0;
  let pendingHigh = false;
  for (let i = at + 1; ;) {
    if (i >= text.length) return 'invalid_json';
    const c = text[i];
    if (c === '"') return pendingHigh ? 'json_lone_surrogate' : { value, end: i + 1 };
    if (c.charCodeAt(0) < 0x20) return 'invalid_json';
    let unit: number;
    if (c === '\\') {
      const esc = text[i + 1];
      if (esc === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return 'invalid_json';
        unit = parseInt(hex, 16);
        i += 6;
      } else if (esc !== undefined && esc in simple) {
        unit = simple[esc].charCodeAt(0);
        i += 2;
      } else return 'invalid_json';
      const high = unit >= 0xd800 && unit <= 0xdbff;
      const low = unit >= 0xdc00 && unit <= 0xdfff;
      if (pendingHigh !== low) return 'json_lone_surrogate';
      pendingHigh = high;
      value += String.fromCharCode(unit);
    } else {
      if (pendingHigh) return 'json_lone_surrogate';
      value += c;
      i += 1;
    }
    if (++length > max) return 'json_string_too_long';
  }
}

describe('parseJsonBody string tokens against the one-character-at-a-time oracle', () => {
  const pieces = [
    'a',
    'Z9',
    ' ',
    'é',
    '\u2014',
    '😀',
    '"',
    '\\"',
    '\\\\',
    '\\/',
    '\\n',
    '\\t',
    '\\b',
    '\\x',
    '\\',
    '\\u0041',
    '\\u00e9',
    '\\uD83D',
    '\\uDE00',
    '\\ud800',
    '\\udfff',
    '\\u12',
    '\\u00G1',
    '\t',
    '\u0000',
    '\u001f',
    'x'.repeat(40),
  ];
  const random = seededRandom(1717);
  const contentOf = (n: number, noQuote = false) => {
    let s = '';
    for (let k = 0; k < n; k++) {
      const piece = pieces[Math.floor(random() * pieces.length)];
      s += noQuote && piece === '"' ? 'q' : piece;
    }
    return s;
  };

  it('should give the same value or the same first refusal as a value and as a member name', () => {
    for (let k = 0; k < 20_000; k++) {
      const max = [4, 10, 65_536][k % 3];
      const limits = { ...DEFAULT_JSON_LIMITS, maxStringLength: max };
      const content = contentOf(Math.floor(random() * 12));
      // as a value: the token must end exactly where the array closes
      const asValue = `["${content}"]`;
      const ref = referenceString(asValue, 1, max);
      const expected =
        typeof ref === 'string' ? ref : asValue.slice(ref.end) === ']' ? 'ok' : 'invalid_json';
      expect([asValue, max, codeOf(asValue, limits)]).toEqual([asValue, max, expected]);
      if (typeof ref !== 'string' && expected === 'ok')
        expect(parsed(asValue, limits)).toEqual([ref.value]);
      // as two member names: the values decide the duplicate check
      const other = random() < 0.3 ? content : contentOf(Math.floor(random() * 4), true);
      const name = content.replace(/(^|[^\\])"/g, '$1q');
      const asNames = `{"${name}":1,"${other}":2}`;
      const first = referenceString(asNames, 1, max);
      const second =
        typeof first === 'string' || asNames.slice(first.end, first.end + 3) !== ':1,'
          ? undefined
          : referenceString(asNames, first.end + 3, max);
      const named =
        typeof first === 'string'
          ? first
          : second === undefined
            ? 'invalid_json'
            : typeof second === 'string'
              ? second
              : asNames.slice(second.end) !== ':2}'
                ? 'invalid_json'
                : first.value === second.value
                  ? 'json_duplicate_key'
                  : 'ok';
      expect([asNames, max, codeOf(asNames, limits)]).toEqual([asNames, max, named]);
    }
  });
});

describe('bodyItemsText', () => {
  it("should give a top-level object's array items as the body held them, parsing to equal items", () => {
    const text =
      '{ "n": 1, "packets" : [ {"a":[1,"x,]"]} ,\n 2.5e1,"\\u005d]" ,[[]], null\t], "o": {"p": [1, 2]}, "e": [] }';
    const body = parseJsonBody(Buffer.from(text), DEFAULT_JSON_LIMITS) as Record<string, unknown[]>;
    const packets = body.packets;
    expect(bodyItemsText(packets, 0, 5)).toBe('{"a":[1,"x,]"]} ,\n 2.5e1,"\\u005d]" ,[[]], null');
    for (let from = 0; from < 5; from++) {
      for (let to = from + 1; to <= 5; to++) {
        expect(JSON.parse(`[${bodyItemsText(packets, from, to)}]`)).toEqual(
          packets.slice(from, to),
        );
      }
    }
    // an empty range, one outside the array, an empty array
    expect(bodyItemsText(packets, 2, 2)).toBeUndefined();
    expect(bodyItemsText(packets, 3, 6)).toBeUndefined();
    expect(bodyItemsText(body.e, 0, 1)).toBeUndefined();
    // an array deeper than a member of the top level, or one the body did not give
    expect(bodyItemsText((body.o as unknown as Record<string, unknown[]>).p, 0, 2)).toBeUndefined();
    expect(bodyItemsText([1, 2], 0, 2)).toBeUndefined();
    // nor once its length changed: its items are no longer the text's
    packets.push(3);
    expect(bodyItemsText(packets, 0, 1)).toBeUndefined();
  });

  it('should give the texts the body held, non-ASCII strings as they were, whatever its pieces', () => {
    const items = [
      '{"nom":"Zoë","名":"中文","e":"😀","x":"\\u00e9\\ud83d\\ude00 é"}',
      '"a, ] é"',
      '{"é":[1,"中]"]}',
      '"\\u4e2d😀"',
    ];
    const text = `{"é": "Zoë", "packets": [${items.join(' ,\n ')}], "o": {"p": ["中", 2]}, "e": [] }`;
    for (const pieceBytes of [undefined, 1, 8, 20, 1000]) {
      const read = parseJsonBody(Buffer.from(text), DEFAULT_JSON_LIMITS, pieceBytes) as Record<
        string,
        unknown[]
      >;
      expect(read).toEqual(JSON.parse(text));
      expect(Object.keys(read)).toEqual(Object.keys(JSON.parse(text) as object));
      for (let from = 0; from < 4; from++) {
        for (let to = from + 1; to <= 4; to++) {
          expect(bodyItemsText(read.packets, from, to)).toBe(items.slice(from, to).join(' ,\n '));
        }
      }
      expect(bodyItemsText(read.packets, 0, 5)).toBeUndefined();
      expect(bodyItemsText(read.e, 0, 1)).toBeUndefined();
      expect(
        bodyItemsText((read.o as unknown as Record<string, unknown[]>).p, 0, 2),
      ).toBeUndefined();
    }
  });

  it('should keep the depth limit on a top-level array member', () => {
    const limits = { ...DEFAULT_JSON_LIMITS, maxDepth: 1 };
    expect(() => parseJsonBody(Buffer.from('{"a":[1]}'), limits)).toThrow(
      expect.objectContaining({ code: 'json_too_deep' }),
    );
    expect(codeOf('{"a":[1]}', limits)).toBe('json_too_deep');
    expect(parsed('{"a":[1]}', { ...limits, maxDepth: 2 })).toEqual({ a: [1] });
  });
});
