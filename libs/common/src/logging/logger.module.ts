import {
  DynamicModule,
  Inject,
  Injectable,
  MiddlewareConsumer,
  Module,
  NestModule,
  RequestMethod,
  Scope,
} from '@nestjs/common';
import { Logger, PARAMS_PROVIDER_TOKEN, Params, PinoLogger } from 'nestjs-pino';
import { storage as requestLogScope } from 'nestjs-pino/storage';
import { IncomingMessage } from 'node:http';
import { types } from 'node:util';
import { DestinationStream, destination, Logger as Pino, pino } from 'pino';
import { LogLevel } from '../config/app.config';
import { redactLogObject, redactString, redactValue } from './redact';
import { requestLogMiddleware } from './request-log';

export interface LoggingOptions {
  level: LogLevel;
  /** Where lines go; stdout when unset (tests pass a stream to read what was logged). */
  stream?: DestinationStream;
  /**
   * `false`: the app mounts `AccessLog.middleware` itself (createApp runs it in its one layer of
   * app-wide middlewares, after the body pipeline, where this module would have mounted it).
   * Otherwise this module mounts it for every route.
   */
  mountAccessLog?: boolean;
}

const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/**
 * Nest's own wiring lines at boot (each module initialized, each controller and route mapped,
 * each WebSocket message subscribed): ~90 lines a start that buried what an operator needs
 * (where the generated secrets are, the store, the port). They go out at `debug`
 * (`LOG_LEVEL=debug` shows them).
 */
export const WIRING_LOG_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
]);

/** nestjs-pino's Logger, with Nest's wiring lines (WIRING_LOG_CONTEXTS) at debug. */
export class AppLogger extends Logger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && WIRING_LOG_CONTEXTS.has(context)) {
      super.debug(message, ...optionalParams);
      return;
    }
    super.log(message, ...optionalParams);
  }
}
const LOGGING_OPTIONS = Symbol('LOGGING_OPTIONS');

/**
 * nestjs-pino's PinoLogger, logging outside a request through this app's own root logger.
 * nestjs-pino's keeps the root of the first app of the process for every such line (a start's,
 * a job's, an alarm's): one app per process in production, so the same thing there; in tests,
 * where one process starts many apps, each app's lines go to its own log.
 */
@Injectable({ scope: Scope.TRANSIENT })
export class AppPinoLogger extends PinoLogger {
  constructor(
    @Inject(PARAMS_PROVIDER_TOKEN) params: Params,
    @Inject(ROOT_LOGGER) private readonly root: Pino,
  ) {
    super(params);
  }

  override get logger(): Pino {
    return requestLogScope.getStore()?.logger ?? this.root;
  }
}

/** The access log and request logging scope (request-log.ts), as one express middleware. */
@Injectable()
export class AccessLog {
  readonly middleware: ReturnType<typeof requestLogMiddleware>;

  constructor(@Inject(ROOT_LOGGER) root: Pino) {
    this.middleware = requestLogMiddleware(root);
  }
}

/**
 * The message pino would log as `msg` of a call with no message argument (none, or undefined:
 * nestjs-pino passes one so) and only an error, or an object holding under `err` an error or
 * any object with a string `message` (pino takes that too) and no `msg`; undefined for any
 * other call.
 */
function bareErrorMessage(args: unknown[]): string | undefined {
  if (args[1] !== undefined || args[0] === null || typeof args[0] !== 'object') return undefined;
  const first = args[0] as { err?: unknown; msg?: unknown };
  const isError = (value: unknown): value is Error =>
    value instanceof Error || types.isNativeError(value);
  if (isError(first)) return first.message;
  if (first.msg !== undefined || first.err === null || typeof first.err !== 'object')
    return undefined;
  const message = (first.err as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

/**
 * A call's arguments with every string redacted, and the format arguments after its message
 * (`error('x %s', value)`, `%o`, `%j`: pino formats them into `msg`, past the log formatter)
 * redacted as values: a string as text, an object field by field.
 */
function redactedArgs(args: unknown[]): unknown[] {
  const message = typeof args[0] === 'string' ? 0 : typeof args[1] === 'string' ? 1 : -1;
  return args.map((a, i) =>
    typeof a === 'string' ? redactString(a) : message >= 0 && i > message ? redactValue(a) : a,
  );
}

/** The one pino logger of an app: level, serializers and the redacting formatter. */
export function createRootLogger(options: LoggingOptions): Pino {
  return pino(
    {
      level: options.level,
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
          const redacted = redactedArgs(args);
          // an error logged without a message (Nest's Logger.error(err), its exceptions
          // handler): pino would take its message as the line's `msg` as it is, past every
          // redaction; given here, redacted
          const message = bareErrorMessage(redacted);
          if (message !== undefined) redacted[1] = redactString(message);
          method.apply(this, redacted);
        },
      },
    },
    // stdout through pino's own buffered writer: a line is queued, not a blocking write
    // per request (pino flushes it on exit)
    options.stream ?? destination({ dest: 1, sync: false }),
  );
}

/**
 * pino for every log line, behind Nest's logger (nestjs-pino's `Logger`); each request gets
 * an access line and every line logged while it runs carries its correlation id
 * (request-log.ts).
 */
@Module({})
export class LoggingModule implements NestModule {
  constructor(
    @Inject(LOGGING_OPTIONS) private readonly options: LoggingOptions,
    private readonly accessLog: AccessLog,
  ) {}

  static forRoot(options: LoggingOptions): DynamicModule {
    const root = createRootLogger(options);
    // nestjs-pino's PinoLogger logs through this root outside a request (useExisting: its own
    // pino-http middleware is not mounted; requestLogMiddleware takes its place)
    const params: Params = { pinoHttp: { logger: root }, useExisting: true };
    return {
      module: LoggingModule,
      global: true,
      providers: [
        { provide: PARAMS_PROVIDER_TOKEN, useValue: params },
        { provide: ROOT_LOGGER, useValue: root },
        { provide: LOGGING_OPTIONS, useValue: options },
        AccessLog,
        { provide: PinoLogger, useClass: AppPinoLogger },
        {
          provide: Logger,
          useFactory: (pinoLogger: PinoLogger, pinoParams: Params) =>
            new AppLogger(pinoLogger, pinoParams),
          inject: [PinoLogger, PARAMS_PROVIDER_TOKEN],
        },
      ],
      exports: [Logger, PinoLogger, PARAMS_PROVIDER_TOKEN, AccessLog],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    if (this.options.mountAccessLog === false) return;
    consumer.apply(this.accessLog.middleware).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}
