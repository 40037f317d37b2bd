import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Request } from 'express';
import { CommonError } from '../errors/common.errors';
import { describeGuard } from './access-doc';
import { isJsonRequest } from './body-pipeline';

/**
 * Registered globally, after the key check: a route that reads a JSON body (a `@Body()`
 * parameter) refuses a body sent as anything but JSON (`application/json`, or an
 * `application/*+json` type as RFC 6839 names them) with 415 `unsupported_media_type`,
 * instead of reading no body and answering that every field "is required". A request without a
 * body (no Content-Length, or 0) passes whatever its Content-Type, so a POST that needs no body
 * still works without one. Routes that read the raw stream (the vault upload) have no `@Body()`
 * and keep their own types. The fielded kiosks' routes (/auth, /api/register-device,
 * /api/generate-challenge, /api/validate-challenge) send application/json, which passes.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  /** Whether each handler has a `@Body()` parameter, read once. */
  private readonly readsBody = new WeakMap<object, boolean>();

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (!hasBody(request) || isJsonRequest(request)) return true;
    if (!this.readsJsonBody(context)) return true;
    const type = request.headers['content-type'];
    throw new CommonError(
      'unsupported_media_type',
      type === undefined
        ? 'The request body has no Content-Type: send it as application/json (or application/*+json)'
        : `Content-Type "${shown(type)}" is not accepted here: send the body as application/json (or application/*+json)`,
    );
  }

  private readsJsonBody(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let reads = this.readsBody.get(handler);
    if (reads === undefined) {
      reads = readsBody(context.getClass(), handler);
      this.readsBody.set(handler, reads);
    }
    return reads;
  }
}

/** Whether a route handler has a `@Body()` parameter. */
export function readsBody(controller: object, handler: { name: string }): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) ?? {}) as Record<
    string,
    unknown
  >;
  return Object.keys(args).some((key) => key.split(':')[0] === String(RouteParamtypes.BODY));
}

/** The OpenAPI side of JsonBodyGuard: a route with a `@Body()` refuses other media types. */
describeGuard(JsonBodyGuard, ({ handler, controller }) =>
  readsBody(controller, handler) ? { errors: { 415: ['unsupported_media_type'] } } : undefined,
);

/** A body is coming: chunked, or a Content-Length above 0. */
function hasBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = request.headers['content-length'];
  return length !== undefined && length !== '0' && Number(length) !== 0;
}

/** The media type as sent, cut short and with odd characters masked (it is echoed). */
function shown(type: string): string {
  return type
    .split(';')[0]
    .trim()
    .slice(0, 60)
    .replace(/[^\w.+/-]/g, '?');
}
