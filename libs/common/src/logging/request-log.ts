import { NextFunction } from 'express';
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
// nestjs-pino's request scope: its PinoLogger (behind the Nest `Logger`) logs through the
// `logger` of the store this holds, so every line logged during a request is the request's
import { storage } from 'nestjs-pino/storage';

/** Requests that get no access line (probes, scrapes). Exact URL, as pino-http's ignore was. */
const UNLOGGED_URLS = new Set(['/health', '/metrics']);

/**
 * The request's logger for nestjs-pino: a child of the root logger carrying `correlationId`,
 * made on first use only (most requests log nothing but their access line).
 */
class RequestLogStore {
  responseLogger?: PinoLogger = undefined;
  private child?: PinoLogger;

  constructor(
    private readonly root: PinoLogger,
    private readonly correlationId: string,
  ) {}

  get logger(): PinoLogger {
    return (this.child ??= this.root.child({ correlationId: this.correlationId }));
  }

  /** nestjs-pino's `PinoLogger.assign` replaces the request's logger with a child of it. */
  set logger(logger: PinoLogger) {
    this.child = logger;
  }
}

/**
 * The access log, one line per request when its response ends (or the client goes away):
 * `correlationId`, `req` {id, method, path}, `res` {statusCode}, `responseTime` (ms),
 * `request completed` at info (warn for 4xx), `request errored` at error with `err` for a 5xx
 * or a failed response. Lines are those pino-http wrote with `quietReqLogger`, without its two
 * child loggers per request: the root logger writes the line, and the `req`/`res` serializers
 * and the redacting formatter of the root (logger.module.ts) apply as before.
 * Also opens the request's logging scope for everything logged while it runs.
 */
export function requestLogMiddleware(root: PinoLogger) {
  return (
    req: IncomingMessage & { id?: string },
    res: ServerResponse,
    next: NextFunction,
  ): void => {
    // correlationIdMiddleware already set req.id; this covers a request that skipped it
    const correlationId = (req.id ??= randomUUID());
    const startedAt = Date.now();
    const logged = !UNLOGGED_URLS.has(req.url ?? '');
    const onDone = (err?: Error): void => {
      res.removeListener('close', onDone);
      res.removeListener('finish', onDone);
      res.removeListener('error', onDone);
      const responseTime = Date.now() - startedAt;
      if (err || res.statusCode >= 500) {
        root.error(
          {
            correlationId,
            req,
            res,
            err: err ?? new Error(`failed with status code ${res.statusCode}`),
            responseTime,
          },
          'request errored',
        );
      } else {
        const level = res.statusCode >= 400 ? 'warn' : 'info';
        root[level]({ correlationId, req, res, responseTime }, 'request completed');
      }
    };
    if (logged) {
      res.on('close', onDone);
      res.on('finish', onDone);
    }
    res.on('error', onDone);
    storage.run(new RequestLogStore(root, correlationId), next);
  };
}
