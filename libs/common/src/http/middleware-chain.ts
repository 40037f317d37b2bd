import { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/** A request handler or an error handler (told apart by arity, as express does). */
type Middleware = RequestHandler | ErrorRequestHandler | ((...args: never[]) => unknown);

/**
 * Several app-wide middlewares as one express layer, run as express's router runs them: in
 * order; once one passes an error (`next(err)`, a synchronous throw or a rejected promise) only
 * error handlers (four parameters) run until one calls `next()` without an error;
 * `next('route')` is no error, `next('router')` leaves at once. At the end the request (or the
 * error) goes on to the app's next layer.
 *
 * Why: express 5's router pays a layer walk for each `app.use` on each request (path match,
 * params, closures): six middlewares as six layers were a measurable part of a small GET's CPU
 * (docs/benchmarks.md, "httpfast2").
 */
export function middlewareChain(middlewares: readonly Middleware[]): RequestHandler {
  const chain = [...middlewares];
  return (req: Request, res: Response, done: NextFunction): void => {
    let index = 0;
    const next = (err?: unknown): void => {
      if (err === 'router') return done(err);
      if (err === 'route') err = undefined;
      while (index < chain.length) {
        const middleware = chain[index++];
        const handlesErrors = middleware.length === 4;
        if (err ? !handlesErrors : handlesErrors) continue;
        let returned: unknown;
        try {
          returned = err
            ? (middleware as ErrorRequestHandler)(err, req, res, next)
            : (middleware as RequestHandler)(req, res, next);
        } catch (thrown) {
          next(thrown);
          return;
        }
        if (isPromise(returned)) {
          returned.then(undefined, (rejected: unknown) =>
            next(rejected || new Error('Rejected promise')),
          );
        }
        return;
      }
      done(err);
    };
    next();
  };
}

function isPromise(value: unknown): value is Promise<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
