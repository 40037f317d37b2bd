import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
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
  405: 'method_not_allowed',
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
    const body = this.toBody(exception, correlationId);
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.setHeader('x-correlation-id', correlationId);
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
    if (statusCode >= 500) {
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
        message,
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
