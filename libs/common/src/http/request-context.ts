import { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';

const CORRELATION_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Runs first on every request: gives it a correlation id (the client's `x-correlation-id`
 * when well formed, else a UUID) and echoes it, so even a body that fails to parse is traceable.
 */
export function correlationIdMiddleware(
  req: Request & { id?: string },
  res: Response,
  next: NextFunction,
): void {
  req.id = correlationIdOf(req.headers['x-correlation-id']);
  res.setHeader('x-correlation-id', req.id);
  next();
}

/** A request's correlation id: its `x-correlation-id` header when well formed, else a new UUID. */
export function correlationIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && CORRELATION_ID.test(header) ? header : randomUUID();
}
