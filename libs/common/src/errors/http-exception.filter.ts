import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { Request, Response } from 'express';
import { BodyPipelineError, BodyPipelineErrorCode } from '../http/body-errors';
import { DomainError, ErrorStatusTable, FieldError, isDomainError } from './domain-error';
import { ErrorBody } from './error-body';
import { storageErrorOf, storeUnavailableOf } from './storage-error';

/** Codes of the framework's own HttpExceptions (an unknown route, a wrong method), by status. */
export const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
  503: 'service_unavailable',
  507: 'storage_full',
};

/** body-parser's own error types, which reach us as plain errors with a `type`. */
const BODY_PARSER_ERRORS: Record<string, { code: BodyPipelineErrorCode; message: string }> = {
  'entity.parse.failed': { code: 'invalid_json', message: 'The request body is not valid JSON' },
  'entity.too.large': { code: 'payload_too_large', message: 'The request body is too large' },
  'encoding.unsupported': {
    code: 'unsupported_encoding',
    message: 'The request encoding is not supported',
  },
  'charset.unsupported': {
    code: 'unsupported_charset',
    message: 'The request charset is not supported',
  },
  'request.aborted': { code: 'request_aborted', message: 'The request was aborted' },
  'request.size.invalid': {
    code: 'bad_request',
    message: 'The request size does not match its length',
  },
};

/**
 * Turns every error into `{ statusCode, code, message, correlationId, errors? }`. A DomainError's
 * status is looked up, by module and code, in the one status table apps/api composes (which
 * fails to compile when a declared code has no status). Unknown errors become a 500 whose
 * message says nothing about the cause (the cause is logged with its stack).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  constructor(private readonly statuses: ErrorStatusTable) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const request = ctx.getRequest<Request & { id?: string }>();
    const response = ctx.getResponse<Response>();
    const correlationId = String(request.id ?? response.getHeader('x-correlation-id') ?? '');
    const allowed = unroutedMethod(exception, request);
    const body = allowed
      ? methodNotAllowed(request.method, allowed, correlationId)
      : this.toBody(exception, correlationId);
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.setHeader('x-correlation-id', correlationId);
    if (allowed) response.setHeader('Allow', allowed.join(', '));
    if (isDomainError(exception) && exception.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    // the metrics middleware labels error responses with this code when the response finishes
    (response.locals as { errorCode?: string }).errorCode = body.code;
    response.status(body.statusCode).json(body);
  }

  private domainBody(error: DomainError, correlationId: string): ErrorBody {
    const statusCode = this.statuses[error.module]?.[error.code];
    if (statusCode === undefined) {
      // unreachable while the table is typed against every catalog; never a silent 200
      this.logger.error({ err: error, correlationId }, 'Error code without an HTTP status');
      return internalError(correlationId);
    }
    if (statusCode >= 500 && error.retryAfterSeconds !== undefined) {
      // a passing state the client is told to wait out (a rebuild's lease), not a fault
      this.logger.warn({ code: error.code, correlationId }, `Request deferred: ${error.code}`);
    } else if (statusCode >= 500) {
      this.logger.error({ err: error, correlationId }, `Request failed: ${error.code}`);
    }
    return clean({
      statusCode,
      code: error.code,
      message: error.message,
      correlationId,
      errors: error.errors,
    });
  }

  private toBody(exception: unknown, correlationId: string): ErrorBody {
    if (isDomainError(exception)) return this.domainBody(exception, correlationId);
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? String(response.message)
          : exception.message;
      return {
        statusCode,
        code: CODE_BY_STATUS[statusCode] ?? `http_${statusCode}`,
        // the router's 404 (`Cannot GET <url>`) names the path only: a query may hold a token
        message: statusCode === 404 ? withoutQuery(message) : message,
        correlationId,
      };
    }
    const parsed = fromBodyParserError(exception);
    if (parsed) return this.toBody(parsed, correlationId);
    const storage = storageErrorOf(exception) ?? storeUnavailableOf(exception);
    if (storage) {
      this.logger.error({ err: exception, correlationId }, 'Storage failure');
      return this.toBody(storage, correlationId);
    }
    this.logger.error({ err: exception, correlationId }, 'Unhandled error');
    return internalError(correlationId);
  }
}

/**
 * For the router's "no route" 404 (Nest's not-found handler) on a path that routes do serve with
 * other methods: those methods (HEAD with GET), so the answer is a 405 with `Allow`. Otherwise
 * undefined. Read from express's router layers, only on that 404.
 */
function unroutedMethod(
  exception: unknown,
  request: Request & { route?: unknown },
): string[] | undefined {
  if (!(exception instanceof NotFoundException) || request.route !== undefined) return undefined;
  if (!exception.message.startsWith(`Cannot ${request.method} `)) return undefined;
  const router = (request.app as unknown as { router?: { stack?: RouterLayer[] } }).router;
  const methods = new Set<string>();
  for (const layer of router?.stack ?? []) {
    if (!layer.route) continue;
    let matched: unknown;
    try {
      matched = layer.match(request.path);
    } catch {
      continue; // a path segment that does not decode (%zz) matches no route
    }
    if (!matched) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on && method !== '_all') methods.add(method.toUpperCase());
    }
  }
  if (methods.has('GET')) methods.add('HEAD');
  methods.delete(request.method);
  return methods.size > 0 ? [...methods].sort() : undefined;
}

interface RouterLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

function methodNotAllowed(method: string, allowed: string[], correlationId: string): ErrorBody {
  return {
    statusCode: 405,
    code: 'method_not_allowed',
    message: `${method} is not allowed here; this path allows ${allowed.join(', ')} (the Allow header)`,
    correlationId,
  };
}

function internalError(correlationId: string): ErrorBody {
  return {
    statusCode: 500,
    code: 'internal_error',
    message: 'Internal server error',
    correlationId,
  };
}

/** body-parser errors as BodyPipelineErrors (also used by the express error hook that runs before Nest maps them). */
export function fromBodyParserError(error: unknown): BodyPipelineError | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !BODY_PARSER_ERRORS[type]) return undefined;
  const known = BODY_PARSER_ERRORS[type];
  return new BodyPipelineError(known.code, known.message);
}

function clean(body: ErrorBody & { errors?: FieldError[] }): ErrorBody {
  if (!body.errors) delete body.errors;
  return body;
}

/** The router's `Cannot <METHOD> <url>` without the url's query; any other message as it is. */
function withoutQuery(message: string): string {
  return /^Cannot [A-Z]+ /.test(message) ? message.replace(/\?[\s\S]*$/, '') : message;
}
