import { jsonObject, optional, text, wholeNumber } from './fields';
import { frameProblem, message } from './message';
import {
  EVERY_SOCKET,
  INBOUND_TYPES,
  InboundFrame,
  MESSAGE_CATALOG,
  MESSAGES,
  messagesOn,
  OutboundFrame,
  outboundProblem,
  RelayRole,
  RESULT,
  RESULT_KIOSK,
} from './messages';
import { parseInboundFrame } from './parse-frame';

const parse = (role: RelayRole, value: unknown) => parseInboundFrame(role, JSON.stringify(value));

describe('the message declarations', () => {
  it('should hold every example to its own declaration, in both directions', () => {
    for (const def of MESSAGES)
      expect([def.type, frameProblem(def, def.example)]).toEqual([def.type, undefined]);
  });

  it('should parse every inbound example on each socket it travels on, to the same frame', () => {
    for (const spec of MESSAGE_CATALOG.filter((s) => s.direction === 'client → server'))
      for (const role of spec.sockets)
        expect(parse(role, spec.example)).toEqual({ ok: true, frame: spec.example });
  });

  it('should find every outbound example acceptable on each socket it travels on, and on no other', () => {
    for (const spec of MESSAGE_CATALOG.filter((s) => s.direction === 'server → client')) {
      for (const role of EVERY_SOCKET) {
        const problem = outboundProblem(role, spec.example);
        if (spec.sockets.includes(role)) expect(problem).toBeUndefined();
        else if (!messagesOn(role, 'server → client').has(spec.type)) expect(problem).toBeDefined();
      }
    }
  });

  it("should keep the platform id out of the kiosk's result by declaration", () => {
    expect(outboundProblem('mobile', RESULT.example)).toBeUndefined();
    expect(outboundProblem('device', RESULT.example)).toBe('result has no field platform_id');
    expect(outboundProblem('device', { ...RESULT.example, platform_id: undefined })).toBe(
      'result has no field platform_id',
    );
    expect(outboundProblem('device', { ...RESULT_KIOSK.example, data: 'raw body' })).toBe(
      'result.data must be a JSON object',
    );
  });

  it('should give each socket one shape per type and direction (the parser picks by type)', () => {
    for (const role of EVERY_SOCKET) {
      for (const direction of ['client → server', 'server → client'] as const) {
        const types = MESSAGES.filter((def) =>
          def.routes.some((r) => r.direction === direction && r.sockets.includes(role)),
        ).map((def) => def.type);
        expect(types).toEqual([...new Set(types)]);
        expect([...messagesOn(role, direction).keys()].sort()).toEqual([...new Set(types)].sort());
      }
    }
  });

  it('should derive the inbound lists from the routes', () => {
    expect(INBOUND_TYPES).toEqual({
      mobile: ['to_device', 'ping', 'pong'],
      device: ['auth', 'to_mobile', 'submit_result', 'ping', 'pong'],
      app: ['to_hardware', 'ping', 'pong'],
      hardware: ['to_app', 'to_backend', 'ping', 'pong'],
    });
  });

  it('should tell legacy sockets nothing at the deadline: session_expired is a new-protocol frame', () => {
    const routes = MESSAGE_CATALOG.filter((s) => s.type === 'session_expired');
    expect(routes.flatMap((r) => r.sockets)).toEqual(['mobile', 'device']);
    expect(outboundProblem('hardware', { type: 'session_expired' })).toBeDefined();
    expect(outboundProblem('app', { type: 'session_expired' })).toBeDefined();
  });

  it('should type the frames from the declarations', () => {
    // compile-time: each line below must type-check (npm run typecheck), or fail to
    const auth: InboundFrame = { type: 'auth', session_id: 's', device_id: 'd', signature: 'x' };
    const submit: InboundFrame = { type: 'submit_result', image: 'x' };
    const legacyJoined: OutboundFrame = { type: 'joined', role: 'app' };
    // @ts-expect-error a legacy joined frame carries no session_id
    const wrongJoined: OutboundFrame = { type: 'joined', role: 'app', session_id: 's' };
    // @ts-expect-error auth needs a signature
    const noSignature: InboundFrame = { type: 'auth', session_id: 's', device_id: 'd' };
    // @ts-expect-error an error frame's code is one of RELAY_ERROR_CODES
    const badCode: OutboundFrame = { type: 'error', code: 'nope', message: 'm' };
    // @ts-expect-error session_expired is not a frame a client sends
    const inbound: InboundFrame = { type: 'session_expired' };
    expect([auth, submit, legacyJoined, wrongJoined, noSignature, badCode, inbound]).toHaveLength(
      7,
    );
  });

  it('should check an example against its own fields when it is declared', () => {
    const fields = { name: text({ max: 4 }), count: optional(wholeNumber()) };
    const routes = [
      { direction: 'client → server', sockets: ['mobile'], description: 'd' },
    ] as const;
    const good = message({ type: 'demo', fields, routes, example: { type: 'demo', name: 'ab' } });
    // @ts-expect-error the example lacks a required field
    message({ type: 'demo', fields, routes, example: { type: 'demo' } });
    // @ts-expect-error the example has a field the declaration does not name
    message({ type: 'demo', fields, routes, example: { type: 'demo', name: 'ab', extra: 1 } });
    // @ts-expect-error the example's field is of the wrong type
    message({ type: 'demo', fields, routes, example: { type: 'demo', name: 'ab', count: 'x' } });
    // @ts-expect-error the example is of another type
    message({ type: 'demo', fields, routes, example: { type: 'other', name: 'ab' } });
    // at run time the bounds hold too: the compiler cannot count characters
    expect(frameProblem(good, { type: 'demo', name: 'abcde' })).toBe(
      'demo.name must be a string of at most 4 characters',
    );
    expect(frameProblem(good, { type: 'demo', name: 'ab', count: 1.5 })).toBe(
      'demo.count must be a whole number',
    );
    expect(frameProblem(good, { type: 'demo', name: 'ab', extra: 1 })).toBe(
      'demo has no field extra',
    );
    const withData = message({
      type: 'demo',
      fields: { data: jsonObject() },
      routes,
      example: { type: 'demo', data: {} },
    });
    expect(frameProblem(withData, { type: 'demo', data: [] })).toBe(
      'demo.data must be a JSON object',
    );
  });
});

describe('parseInboundFrame', () => {
  it('should refuse what is not a JSON object', () => {
    expect(parseInboundFrame('mobile', '{nope')).toMatchObject({ ok: false, code: 'invalid_json' });
    expect(parseInboundFrame('mobile', '[1]')).toMatchObject({ ok: false, code: 'invalid_json' });
    expect(parseInboundFrame('mobile', 'null')).toMatchObject({ ok: false, code: 'invalid_json' });
  });

  it('should refuse a type the socket does not take, or none', () => {
    expect(parse('mobile', { type: 'auth' })).toMatchObject({ ok: false, code: 'unknown_type' });
    expect(parse('app', { type: 'to_device', data: {} })).toMatchObject({
      ok: false,
      code: 'unknown_type',
    });
    expect(parse('device', { type: 'session_expired' })).toMatchObject({ code: 'unknown_type' });
    expect(parse('device', { data: {} })).toMatchObject({ code: 'unknown_type' });
    expect(parse('device', { type: 7 })).toMatchObject({ code: 'unknown_type' });
  });

  it('should hold every field to its declared kind and bounds, naming the field', () => {
    const auth = { type: 'auth', session_id: 's', device_id: 'd', signature: 'x' };
    const cases: [RelayRole, unknown, string][] = [
      [
        'device',
        { ...auth, device_id: 'd'.repeat(129) },
        'auth.device_id must be a string of at most 128 characters',
      ],
      [
        'device',
        { ...auth, signature: 'x'.repeat(4097) },
        'auth.signature must be a string of at most 4096 characters',
      ],
      ['device', { ...auth, session_id: 1 }, 'auth.session_id must be a string'],
      [
        'device',
        { type: 'submit_result', image: '' },
        'submit_result.image must be a non-empty string',
      ],
      [
        'device',
        { type: 'submit_result', image: 'x', passes: 1001 },
        'submit_result.passes must be a whole number from 0 to 1000',
      ],
      [
        'device',
        { type: 'submit_result', image: 'x', passes: -1 },
        'submit_result.passes must be a whole number from 0 to 1000',
      ],
      [
        'device',
        { type: 'submit_result', image: 'x', passes: 2.5 },
        'submit_result.passes must be a whole number from 0 to 1000',
      ],
      [
        'device',
        { type: 'submit_result', image: 'x', passes: null },
        'submit_result.passes must be a whole number from 0 to 1000',
      ],
      ['mobile', { type: 'to_device', data: [1] }, 'to_device.data must be a JSON object'],
      ['hardware', { type: 'to_backend' }, 'to_backend.data must be a JSON object'],
      ['app', { type: 'to_hardware', data: 'x' }, 'to_hardware.data must be a JSON object'],
    ];
    for (const [role, value, message] of cases)
      expect(parse(role, value)).toEqual({ ok: false, code: 'invalid_message', message });
    expect(
      parse('device', { ...auth, device_id: 'd'.repeat(128), signature: 'x'.repeat(4096) }),
    ).toMatchObject({ ok: true });
  });

  it('should keep the declared fields only', () => {
    expect(parse('mobile', { type: 'ping', extra: 'x' })).toEqual({
      ok: true,
      frame: { type: 'ping' },
    });
    expect(parse('device', { type: 'submit_result', image: 'x', platform_id: 'PLT_x' })).toEqual({
      ok: true,
      frame: { type: 'submit_result', image: 'x' },
    });
  });
});
