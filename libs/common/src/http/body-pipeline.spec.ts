import type { NextFunction, Request, Response } from 'express';
import { bodyPipeline, jsonBodyBytesOf } from './body-pipeline';
import { DEFAULT_JSON_LIMITS } from './json-limits';

describe('bodyPipeline: the bytes a JSON body was parsed from', () => {
  // [encodingGate, readJson, parse, mapErrors]: the parse step, on a body already read
  const parse = bodyPipeline({ ...DEFAULT_JSON_LIMITS, limitBytes: 1 << 20 })[2] as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  const parsed = (bytes: Buffer): { body: unknown; error: unknown } => {
    const req = { body: bytes } as Request;
    let error: unknown;
    parse(req, {} as Response, (e?: unknown) => (error = e));
    return { body: req.body as unknown, error };
  };

  it('should answer the very bytes a parsed body came from, for that object only', () => {
    const bytes = Buffer.from('\ufeff{"packets":[{"payload":{"note":"—"},"signature":"ab"}]}');
    const { body, error } = parsed(bytes);
    expect(error).toBeUndefined();
    expect(body).toEqual({ packets: [{ payload: { note: '—' }, signature: 'ab' }] });
    expect(jsonBodyBytesOf(body)).toBe(bytes);
    // what a worker parses from them is the same value
    expect(JSON.parse(new TextDecoder().decode(jsonBodyBytesOf(body)))).toEqual(body);
    // an equal object, a copy, a part of the body or a scalar has none
    expect(jsonBodyBytesOf(JSON.parse(JSON.stringify(body)))).toBeUndefined();
    expect(jsonBodyBytesOf((body as { packets: unknown[] }).packets)).toBeUndefined();
    expect(jsonBodyBytesOf('{}')).toBeUndefined();
    expect(jsonBodyBytesOf(null)).toBeUndefined();
  });

  it('should keep none for an empty body or one refused', () => {
    expect(jsonBodyBytesOf(parsed(Buffer.alloc(0)).body)).toBeUndefined();
    const refused = parsed(Buffer.from('[1, 2]'));
    expect(refused.error).toBeDefined();
    expect(jsonBodyBytesOf(refused.body)).toBeUndefined();
  });
});
