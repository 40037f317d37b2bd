import { HttpException } from '@nestjs/common';
import { raw } from 'body-parser';
import { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { IncomingMessage } from 'node:http';
import { DomainError } from '../errors/domain-error';
import { fromBodyParserError } from '../errors/http-exception.filter';
import { BodyPipelineError } from './body-errors';
import { JsonLimits, notAnObject, parseJsonBody } from './json-limits';

/** Encodings the JSON parser decodes (body-parser inflates them within the size limit). */
const JSON_ENCODINGS = new Set(['identity', 'gzip', 'deflate', 'br']);

export interface BodyPipelineOptions extends JsonLimits {
  /** Bytes of a JSON body after decoding. */
  limitBytes: number;
}

/**
 * The one place request bodies are admitted, for every route, before routing, guards and
 * pipes: the Content-Encoding must be one we decode (identity only for bodies we do not parse,
 * such as vault uploads), the JSON must decode as strict UTF-8 and pass the I-JSON limits of
 * `parseJsonBody`. Each failure is a 4xx `BodyPipelineError` with its own code for the exception
 * filter, one of those `BODY_PIPELINE_ERRORS` lists (./body-errors.ts).
 */
export function bodyPipeline(
  options: BodyPipelineOptions,
): (RequestHandler | ErrorRequestHandler)[] {
  const readJson = raw({ type: isJsonRequest, limit: options.limitBytes, inflate: true });
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const encodingGate = (req: Request, _res: Response, next: NextFunction): void => {
    // no Content-Encoding (every GET, most bodies): identity, which every route admits
    if (req.headers['content-encoding'] === undefined) {
      next();
      return;
    }
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    const allowed = isJsonRequest(req) ? JSON_ENCODINGS.has(encoding) : encoding === 'identity';
    if (!allowed) {
      next(
        new BodyPipelineError(
          'unsupported_encoding',
          `Content-Encoding "${encoding.slice(0, 40).replace(/[^\w.+-]/g, '?')}" is not supported here`,
        ),
      );
      return;
    }
    next();
  };
  const parse = (req: Request, _res: Response, next: NextFunction): void => {
    if (!Buffer.isBuffer(req.body)) {
      next();
      return;
    }
    const bytes = req.body;
    if (bytes.length === 0) {
      // as body-parser's json parser: an empty JSON body is an empty object
      req.body = {};
      next();
      return;
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      next(new BodyPipelineError('invalid_json', 'The request body is not valid UTF-8 JSON'));
      return;
    }
    try {
      const body = parseJsonBody(text, options);
      // every JSON body this API reads is an object: an array is refused as such
      if (Array.isArray(body)) throw notAnObject();
      req.body = body;
      next();
    } catch (error) {
      next(error);
    }
  };
  const mapErrors = (err: unknown, _req: Request, _res: Response, next: NextFunction): void => {
    if (err instanceof DomainError || err instanceof HttpException) next(err);
    else next(fromBodyParserError(err) ?? decodingError(err) ?? err);
  };
  return [encodingGate, readJson, parse, mapErrors];
}

/** Whether the request says its body is JSON (`application/json` or `application/*+json`). */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** zlib refusing a body that is not what its Content-Encoding says. */
function decodingError(err: unknown): BodyPipelineError | undefined {
  const e = err as { status?: unknown; code?: unknown; errno?: unknown } | null;
  if (!e || e.status !== 400) return undefined;
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new BodyPipelineError(
      'invalid_content_encoding',
      'The request body is not encoded as its Content-Encoding says',
    );
  }
  if (typeof e.code === 'string' && e.code.startsWith('ERR_')) {
    return new BodyPipelineError(
      'invalid_content_encoding',
      'The request body could not be decoded',
    );
  }
  return new BodyPipelineError('bad_request', 'The request body could not be read');
}
