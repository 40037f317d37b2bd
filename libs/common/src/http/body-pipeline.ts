import { HttpException } from '@nestjs/common';
import { raw } from 'body-parser';
import { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { isUtf8 } from 'node:buffer';
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
  const encodingGate = (req: Request, _res: Response, next: NextFunction): void => {
    const charset = jsonCharsetRefused(req);
    if (charset !== undefined) {
      next(
        new BodyPipelineError(
          'unsupported_charset',
          `Content-Type charset "${charset.slice(0, 40).replace(/[^\w.+-]/g, '?')}" is not supported: a JSON body is UTF-8 (RFC 8259)`,
        ),
      );
      return;
    }
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
  // a JSON body declared over the limit (encoded or not: `jsonBodyDeclaredOver`) is refused
  // before a byte of it is read, its connection closed after the answer (body-parser would
  // refuse it too, but only once the whole declared length had been read and dropped, or the
  // decoded bytes passed the limit: a client declaring 99999999999 bytes and sending 2 held
  // the request until the body timeout, then got 408), as the vault upload refuses its own
  const declaredGate = (req: Request, res: Response, next: NextFunction): void => {
    if (jsonBodyDeclaredOver(req, options.limitBytes)) {
      res.setHeader('Connection', 'close');
      next(jsonTooLarge(options.limitBytes));
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
    // strict UTF-8 (`isUtf8` refuses overlong forms, encoded surrogates and truncated
    // sequences, as a fatal TextDecoder does), one leading BOM dropped (as TextDecoder does);
    // the JSON is then read from the bytes, never made one string (parseJsonBody)
    if (!isUtf8(bytes)) {
      next(new BodyPipelineError('invalid_json', 'The request body is not valid UTF-8 JSON'));
      return;
    }
    const hasBom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    try {
      const body = parseJsonBody(hasBom ? bytes.subarray(3) : bytes, options);
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
  return [encodingGate, declaredGate, readJson, parse, mapErrors];
}

/**
 * Whether the request is JSON whose declared Content-Length is over `limitBytes`, whatever its
 * Content-Encoding: an identity body's length is its decoded size; a compressed one (gzip,
 * deflate, br) decodes to more bytes than it is sent in (JSON is text, which they shrink), so
 * a compressed length over the limit is a decoded body over it too, refused before a byte is
 * read rather than once the whole declared length has arrived (or the body timeout). The one
 * body this refuses that decoding would have passed: one near the limit sent in stored
 * (uncompressed) blocks, a few bytes a block larger than its JSON, which no compressor sends
 * for text.
 */
export function jsonBodyDeclaredOver(req: IncomingMessage, limitBytes: number): boolean {
  const length = req.headers['content-length'];
  if (length === undefined || !isJsonRequest(req)) return false;
  return Number(length) > limitBytes;
}

/** The refusal of a JSON body over the limit (`limitBytes` after decoding). */
export function jsonTooLarge(limitBytes: number): BodyPipelineError {
  return new BodyPipelineError(
    'payload_too_large',
    `The JSON request body is over the largest the server takes (${limitBytes} bytes)`,
  );
}

/** Charsets a JSON body may declare: UTF-8 (RFC 8259), and ASCII, a subset of it. */
const JSON_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * The charset a JSON request declares when it is not one its body is read as (UTF-8), else
 * undefined (none declared, or UTF-8). A body is never read as what it does not say it is.
 */
function jsonCharsetRefused(req: IncomingMessage): string | undefined {
  const contentType = req.headers['content-type'];
  if (contentType === undefined || !contentType.includes(';') || !isJsonRequest(req)) {
    return undefined;
  }
  for (const parameter of contentType.split(';').slice(1)) {
    const [name, ...rest] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const value = rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (!JSON_CHARSETS.has(value)) return value;
  }
  return undefined;
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
