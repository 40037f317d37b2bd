import { scanCanonicalObject } from './canonical-json';

/** Where the canonical object at `start` ends, or -1 (the scan's answer, as a number). */
const canonicalObjectEnd = (text: string, start: number): number =>
  scanCanonicalObject(text, start)?.end ?? -1;
import { parseInboundFrame, relayedData } from './parse-frame';
import { RelayRole } from './messages';
import { pickWith, seededRandom as random } from '@app/common/testing/seeded-random';

const rand = random(17);
// eslint-disable-next-line no-control-regex -- every character outside ASCII, by code
const NON_ASCII = /[^\x00-\x7f]/;
const pick = pickWith(rand);

/** Characters that test the string rules: escapes, controls, surrogates, U+2028, DEL, ASCII. */
const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '\u2028',
  '\u2029',
  '\ufeff',
  '😀',
  '\ud800',
  '\udc00',
  'K',
  '\u212a',
  '_',
  ':',
  ',',
  '{',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  7,
  10,
  123456789012345,
  1234567890123456,
  9007199254740992,
  1e21,
  1e-7,
  0.1,
  0.30000000000000004,
  -2.5,
  1.5e300,
  5e-324,
  123.456,
  1e20,
  4294967295,
  Math.PI,
  -1e-10,
];
const KEYS = [
  'a',
  'type',
  'data',
  '',
  '0',
  '1',
  '10',
  '01',
  '4294967295',
  '-1',
  '__proto__',
  'constructor',
  'platform_id',
  'a"b',
  'x\ny',
  'é',
  '😀',
  'seq',
  't',
  'note',
];

function value(depth: number): unknown {
  const r = rand();
  if (depth > 4 || r < 0.3) return scalar();
  if (r < 0.65) return object(depth);
  return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
}

function scalar(): unknown {
  const r = rand();
  if (r < 0.35) return Array.from({ length: Math.floor(rand() * 8) }, () => pick(CHARS)).join('');
  if (r < 0.65)
    return rand() < 0.5 ? pick(NUMBERS) : (rand() - 0.5) * 10 ** Math.floor(rand() * 30);
  if (r < 0.75) return Math.floor(rand() * 1e6);
  return pick([true, false, null]);
}

function object(depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) out[pick(KEYS)] = value(depth + 1);
  return out;
}

/** Text JSON.parse may or may not take, shaped like real frames but written by hand. */
function handWritten(): string {
  const parts = [
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '"a"',
    '"b"',
    '"a"',
    '1',
    '-0',
    '1.0',
    '1e2',
    '1E+2',
    '01',
    '.5',
    'true',
    'false',
    'null',
    'nul',
    ' ',
    '\n',
    '"\\u0041"',
    '"\\/"',
    '"\\n"',
    '"\\x"',
    '"__proto__"',
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    '1e400',
    '-',
    '"é"',
    '"\u0001"',
    '9007199254740993',
    '"\\"',
  ];
  let out = '{';
  for (let i = Math.floor(rand() * 10); i > 0; i--) out += pick(parts);
  return rand() < 0.5 ? `${out}}` : out;
}

/** What the relay sent before: the frame parsed, then its data written in the peer's frame. */
function expected(role: RelayRole, type: string, text: string): string | undefined {
  const parsed = parseInboundFrame(role, text);
  if (!parsed.ok || parsed.frame.type !== type) return undefined;
  return JSON.stringify((parsed.frame as { data: unknown }).data);
}

function roundTrips(text: string): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === text;
  } catch {
    return false;
  }
}

describe('canonicalObjectEnd', () => {
  it('should accept only objects JSON.stringify writes back as the same text, on random values', () => {
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = JSON.stringify(object(0));
      const end = canonicalObjectEnd(text, 0);
      if (end === -1) continue;
      accepted++;
      expect([text, end]).toEqual([text, text.length]);
      expect([text, roundTrips(text)]).toEqual([text, true]);
    }
    // the generator writes many forms the scan declines (digit names, lone surrogates, -0 …)
    expect(accepted).toBeGreaterThan(5_000);
  });

  it('should never accept text JSON.parse refuses or writes back otherwise, on hostile text', () => {
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = rand() < 0.5 ? handWritten() : mutate(JSON.stringify(object(0)));
      const end = canonicalObjectEnd(text, 0);
      if (end === -1) continue;
      accepted++;
      const whole = text.slice(0, end);
      expect([whole, roundTrips(whole)]).toEqual([whole, true]);
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('should accept the common forms and decline the doubtful ones', () => {
    const yes = [
      '{}',
      '{"a":1,"b":[1,2.5,"x"],"c":{"d":null,"e":true,"f":false}}',
      '{"s":"tab\\t nl\\n q\\" bs\\\\ \\b\\f\\r é 😀 \u2028"}',
      '{"n":-12,"m":0,"f":0.1,"e":1e+21,"g":1e-7,"big":100000000000000000000}',
      '{"t":12345.678901234567}',
    ];
    for (const text of yes)
      expect([text, canonicalObjectEnd(text, 0)]).toEqual([text, text.length]);
    const no = [
      '{ }',
      '{"a": 1}',
      '{"a":1 }',
      '{"0":1}',
      '{"a":1,"a":2}',
      '{"__proto__":{}}',
      '{"a":-0}',
      '{"a":1.0}',
      '{"a":1e2}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":.5}',
      '{"a":"\\u0041"}',
      '{"a":"\\/"}',
      '{"a":"\u0001"}',
      '{"a":"\ud800"}',
      '{"a":"\udc00x"}',
      '{"a":1e400}',
      '{"a":9007199254740993}',
      '{"a":[1,]}',
      '{"a":1,}',
      '{"a"}',
      '{"a":tru}',
      '[1]',
      '"x"',
      '{"a":1',
      '{"a":"x',
      '{"a":"\\',
      '{"a":{"b":1}',
      '{,"a":1}',
    ];
    for (const text of no) expect([text, canonicalObjectEnd(text, 0)]).toEqual([text, -1]);
  });

  it('should take a number exactly when String(Number(text)) writes it back, on random literals', () => {
    const digits = (n: number) =>
      Array.from({ length: n }, () => pick('0123456789'.split(''))).join('');
    let accepted = 0;
    for (let i = 0; i < 50_000; i++) {
      const int =
        rand() < 0.3 ? '0' : pick('123456789'.split('')) + digits(Math.floor(rand() * 18));
      const frac =
        rand() < 0.3
          ? ''
          : `.${'0'.repeat(rand() < 0.3 ? Math.floor(rand() * 9) : 0)}${digits(1 + Math.floor(rand() * 18))}`;
      const exp =
        rand() < 0.85
          ? ''
          : `${pick(['e', 'E'])}${pick(['', '+', '-'])}${digits(1 + Math.floor(rand() * 3))}`;
      const literal = `${rand() < 0.3 ? '-' : ''}${int}${frac}${exp}`;
      const canonical = String(Number(literal)) === literal;
      if (canonical) accepted++;
      const text = `{"a":${literal}}`;
      expect([literal, canonicalObjectEnd(text, 0) === text.length]).toEqual([literal, canonical]);
    }
    expect(accepted).toBeGreaterThan(5_000);
  });

  it('should tell whether the object is all ASCII, as a search for any other character does', () => {
    const seen = { ascii: 0, other: 0 };
    for (let i = 0; i < 20_000; i++) {
      const r = rand();
      // what comes before the object (from 0 or after other text) is not the scan's to judge
      const text =
        (r < 0.8 ? '' : pick([' ', 'é ', '"é":', '\u212a'])) +
        (r < 0.6 ? JSON.stringify(object(0)) : mutate(JSON.stringify(object(0))));
      const start = text.indexOf('{');
      const scanned = scanCanonicalObject(text, start);
      if (scanned === undefined) continue;
      const whole = text.slice(start, scanned.end);
      expect([whole, scanned.ascii]).toEqual([whole, !NON_ASCII.test(whole)]);
      seen[scanned.ascii ? 'ascii' : 'other']++;
    }
    expect(seen.ascii).toBeGreaterThan(3_000);
    expect(seen.other).toBeGreaterThan(500);
    // each scan answers for its own text: after one that saw (or declined on) other characters
    for (const first of ['{"a":"é"}', '{"a":"é","b":01}', '{"\u212a":"\ud800"}'])
      for (const then of ['{"a":"k"}', '{"k":"K","n":[1,true,null]}', '{}']) {
        scanCanonicalObject(first, 0);
        expect([first, then, scanCanonicalObject(then, 0)?.ascii]).toEqual([first, then, true]);
      }
    const known: Array<[string, boolean | undefined]> = [
      ['{"\u212a":1}', false], // the Kelvin sign, which lower-cases to an ASCII k
      ['{"a":["x","😀"]}', false],
      ['{"a":"\u0080"}', false],
      ['{"a":"\u007f\\t"}', true],
      ['{"a":"\\u212a"}', undefined], // an escape JSON.stringify does not write
    ];
    for (const [text, ascii] of known)
      expect([text, scanCanonicalObject(text, 0)?.ascii]).toEqual([text, ascii]);
  });

  it('should decline nesting deeper than it scans, and objects of very many names', () => {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`;
    expect(canonicalObjectEnd(deep, 0)).toBe(-1);
    const wide = JSON.stringify(
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
    );
    expect(canonicalObjectEnd(wide, 0)).toBe(-1);
    const shallow = `${'{"a":'.repeat(30)}1${'}'.repeat(30)}`;
    expect(canonicalObjectEnd(shallow, 0)).toBe(shallow.length);
  });
});

describe('relayedData', () => {
  const ROUTES: Array<[RelayRole, string]> = [
    ['mobile', 'to_device'],
    ['device', 'to_mobile'],
    ['hardware', 'to_app'],
  ];

  it('should give the data JSON.stringify would write after parseInboundFrame, or nothing', () => {
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const [role, type] = pick(ROUTES);
      const r = rand();
      const frame =
        r < 0.6
          ? JSON.stringify({ type, data: object(0) })
          : r < 0.7
            ? JSON.stringify({ data: object(0), type })
            : r < 0.8
              ? JSON.stringify({ type, data: object(0), extra: 1 })
              : r < 0.9
                ? `{"type":"${type}","data":${handWritten()}}`
                : mutate(JSON.stringify({ type, data: object(0) }));
      const data = relayedData(role, frame);
      if (data === undefined) continue;
      accepted++;
      expect([frame, data.text]).toEqual([frame, expected(role, type, frame)]);
      expect([frame, data.ascii]).toEqual([frame, !NON_ASCII.test(data.text)]);
    }
    expect(accepted).toBeGreaterThan(4_000);
  });

  it('should take the relayed frame on its own socket only, whole and with data an object', () => {
    const frame = '{"type":"to_device","data":{"step":"look_at_camera","t":12.5}}';
    const bytes = Buffer.from(frame);
    expect(relayedData('mobile', frame, bytes)).toEqual({
      type: 'from_mobile',
      text: '{"step":"look_at_camera","t":12.5}',
      ascii: true,
      received: bytes,
      start: '{"type":"to_device","data":'.length,
    });
    for (const role of ['device', 'app', 'hardware'] as const)
      expect(relayedData(role, frame)).toBeUndefined();
    for (const text of [
      '{"type":"to_device","data":[1]}',
      '{"type":"to_device","data":"x"}',
      '{"type":"to_device","data":null}',
      '{"type":"to_device","data":{}} ',
      '{"type":"to_device","data":{},"data":{}}',
      '{"type":"to_device","data":{}},',
      '{"type":"to_device","data":{}',
      '{"type":"to_device","data":{}}}',
      '{"type":"to_device","data":{},"type":"ping"}',
      '{"type":"to_device" ,"data":{}}',
      '\ufeff{"type":"to_device","data":{}}',
    ])
      expect([text, relayedData('mobile', text)]).toEqual([text, undefined]);
  });
});

/** The text with one character changed, dropped or doubled. */
function mutate(text: string): string {
  const at = Math.floor(rand() * text.length);
  const r = rand();
  if (r < 0.33)
    return (
      text.slice(0, at) +
      pick(['"', '\\', ',', '}', ' ', '0', '-', 'e', '\u0001']) +
      text.slice(at + 1)
    );
  if (r < 0.66) return text.slice(0, at) + text.slice(at + 1);
  return text.slice(0, at) + text[at] + text.slice(at);
}
