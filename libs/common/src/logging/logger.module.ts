import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule as PinoLoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { DestinationStream, destination } from 'pino';
import { LogLevel } from '../config/app.config';
import { redactLogObject, redactString, redactValue } from './redact';

export interface LoggingOptions {
  level: LogLevel;
  /** Where lines go; stdout when unset (tests pass a stream to read what was logged). */
  stream?: DestinationStream;
}

/**
 * pino for every log line; each request line carries the request's correlation id.
 */
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        PinoLoggerModule.forRoot({
          pinoHttp: [
            {
              level: options.level,
              // correlationIdMiddleware already set req.id; this covers a request that skipped it
              genReqId: (req: IncomingMessage) => req.id ?? randomUUID(),
              // every line of a request carries `correlationId` (a binding of the request's
              // child logger); the completion line also carries `req`, `res`, `responseTime`
              quietReqLogger: true,
              customAttributeKeys: { reqId: 'correlationId' },
              // the serializers receive the raw req/res (no intermediate copy per request)
              wrapSerializers: false,
              serializers: {
                req: (req: IncomingMessage & { id?: string; originalUrl?: string }) => {
                  const url = req.originalUrl ?? req.url;
                  return {
                    id: req.id,
                    method: req.method,
                    // the query string may hold a token: log the path only, and mask ids in it
                    path: typeof url === 'string' ? redactString(url.split('?')[0]) : undefined,
                  };
                },
                res: (res: { statusCode?: number | null }) => ({ statusCode: res.statusCode }),
                err: (err: unknown) => redactValue(err),
              },
              formatters: {
                log: redactLogObject,
              },
              hooks: {
                logMethod(args: unknown[], method: (...a: unknown[]) => void) {
                  method.apply(
                    this,
                    args.map((a) => (typeof a === 'string' ? redactString(a) : a)),
                  );
                },
              },
              customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
                err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
              autoLogging: {
                ignore: (req: IncomingMessage) => req.url === '/health' || req.url === '/metrics',
              },
            },
            // stdout through pino's own buffered writer: a line is queued, not a blocking write
            // per request (pino flushes it on exit)
            options.stream ?? destination({ dest: 1, sync: false }),
          ],
        }),
      ],
    };
  }
}
