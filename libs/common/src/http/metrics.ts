import { Controller, Get, Global, Injectable, Module, Next, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from './openapi-decorators';
import { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from './prometheus';
import { Public } from '../auth/roles.decorator';

/** One Prometheus registry per app instance (tests run several apps in one process). */
@Injectable()
export class MetricsRegistry extends Registry {
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly httpErrors: Counter<'method' | 'route' | 'status' | 'code'>;

  constructor() {
    super();
    collectDefaultMetrics(this, 'mdai_');
    this.httpDuration = new Histogram({
      name: 'mdai_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this],
    });
    this.httpErrors = new Counter({
      name: 'mdai_http_errors_total',
      help: 'HTTP responses with a 4xx/5xx status (or cut before the end), by route, status and error code',
      labelNames: ['method', 'route', 'status', 'code'],
      registers: [this],
    });
  }
}

/**
 * Records every HTTP response as it was sent: on the response's `finish` (or `close` when the
 * client went away first), so guard refusals, body-parser errors and exception-filter statuses
 * are counted with the status the client actually got. Installed with `app.use` before the body
 * is read. Route is the matched route pattern, `unmatched` when no route was reached.
 */
export function httpMetricsMiddleware(registry: MetricsRegistry) {
  // one histogram child per (method, route, status): prom-client checks and hashes the label
  // set on each observation otherwise; the set of routes and statuses is small and fixed
  const durations = new Map<string, { observe(seconds: number): void }>();
  const durationOf = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let child = durations.get(key);
    if (!child) {
      child = registry.httpDuration.labels({ method, route, status });
      if (durations.size < MAX_LABEL_SETS) durations.set(key, child);
    }
    return child;
  };
  return (request: Request, response: Response, next: NextFunction): void => {
    const startedAt = performance.now();
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      const route = routeOf(request);
      const status = response.writableFinished ? String(response.statusCode) : 'aborted';
      durationOf(request.method, route, status).observe((performance.now() - startedAt) / 1000);
      if (response.statusCode >= 400 || status === 'aborted') {
        const code = (response.locals as { errorCode?: string }).errorCode;
        registry.httpErrors.inc({
          method: request.method,
          route,
          status,
          code: code ?? (status === 'aborted' ? 'aborted' : `http_${status}`),
        });
      }
    };
    response.once('finish', record);
    response.once('close', record);
    next();
  };
}

/** Bound on remembered label sets (methods are any token a client sends). */
const MAX_LABEL_SETS = 1000;

function routeOf(request: Request): string {
  const path = (request.route as { path?: unknown } | undefined)?.path;
  // Nest answers unknown paths from a catch-all route: that is no route of ours
  return typeof path === 'string' && path !== '/{*path}' ? path : 'unmatched';
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly registry: MetricsRegistry) {}

  /**
   * Express matches routes without regard to case and with or without a trailing slash: this
   * route answers only `/metrics` as spelled (a query string aside), the path scrapers ask for.
   * Any other spelling goes on to the next route, the not-found answer every unknown path gets,
   * so a proxy that refuses the exact path refuses every path this one answers.
   */
  @Public()
  @Get()
  async metrics(
    @Req() request: Request,
    @Res() response: Response,
    @Next() next: NextFunction,
  ): Promise<void> {
    if (request.path !== '/metrics') return next();
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('Content-Type', this.registry.contentType);
    response.send(await this.registry.metrics());
  }
}

@Global()
@Module({
  providers: [MetricsRegistry],
  controllers: [MetricsController],
  exports: [MetricsRegistry],
})
export class MetricsModule {}
