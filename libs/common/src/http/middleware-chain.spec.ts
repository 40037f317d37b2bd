import express, {
  ErrorRequestHandler,
  NextFunction,
  Request,
  RequestHandler,
  Response,
} from 'express';
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { middlewareChain } from './middleware-chain';

type Trail = Request & { trail?: string[] };
type Middleware = RequestHandler | ErrorRequestHandler;

const step =
  (name: string): RequestHandler =>
  (req: Trail, _res, next) => {
    (req.trail ??= []).push(name);
    next();
  };
const failing =
  (name: string): RequestHandler =>
  (req: Trail, _res, next) => {
    (req.trail ??= []).push(name);
    next(new Error(`${name} failed`));
  };
const mapping =
  (name: string): ErrorRequestHandler =>
  (err: Error, req: Trail, _res, next) => {
    (req.trail ??= []).push(`${name}(${err.message})`);
    next(new Error(`mapped ${err.message}`));
  };

/** Each case: the middlewares, run once as separate `app.use` layers and once as one chain. */
const cases: [string, Middleware[]][] = [
  ['in order', [step('a'), step('b'), step('c')]],
  [
    'an error skips plain middlewares to the next error handler',
    [step('a'), failing('b'), step('c'), mapping('m'), step('d')],
  ],
  [
    'a synchronous throw is an error',
    [
      step('a'),
      (req: Trail) => {
        (req.trail ??= []).push('t');
        throw new Error('thrown');
      },
      step('c'),
      mapping('m'),
    ],
  ],
  [
    'an error handler that calls next() resumes the plain middlewares after it',
    [
      failing('a'),
      (err: Error, req: Trail, _res: Response, next: NextFunction) => {
        (req.trail ??= []).push(`recovered(${err.message})`);
        next();
      },
      step('b'),
    ],
  ],
  ['an error handler is skipped when there is no error', [step('a'), mapping('m'), step('b')]],
  [
    'next may be called later',
    [
      step('a'),
      (_req: Request, _res: Response, next: NextFunction) => void setImmediate(() => next()),
      step('b'),
    ],
  ],
  [
    'a rejected promise is an error',
    [step('a'), async () => Promise.reject(new Error('rejected')), step('b'), mapping('m')],
  ],
  [
    "next('route') is no error",
    [step('a'), (_req: Request, _res: Response, next: NextFunction) => next('route'), step('b')],
  ],
  [
    "next('router') leaves the app's middlewares",
    [step('a'), (_req: Request, _res: Response, next: NextFunction) => next('router'), step('b')],
  ],
  [
    'a middleware that answers ends the request',
    [
      step('a'),
      (_req: Request, res: Response) => void res.status(202).json({ answered: true }),
      step('b'),
    ],
  ],
];

function appWith(mount: (app: express.Express) => void): express.Express {
  const app = express();
  mount(app);
  app.get('/probe', (req: Trail, res) => {
    res.json({ trail: req.trail ?? [] });
  });
  app.use(((err: Error, req: Trail, res: Response, _next: NextFunction) => {
    res.status(418).json({ error: err.message, trail: req.trail ?? [] });
  }) as ErrorRequestHandler);
  return app;
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/probe` };
}

async function answer(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe('middlewareChain', () => {
  it.each(cases)('should answer as separate express layers do: %s', async (_name, middlewares) => {
    const layered = await listen(appWith((app) => middlewares.forEach((m) => app.use(m))));
    const chained = await listen(appWith((app) => app.use(middlewareChain(middlewares))));
    try {
      const expected = await answer(layered.url);
      expect(await answer(chained.url)).toEqual(expected);
    } finally {
      layered.server.close();
      chained.server.close();
    }
  });

  it('should run the middlewares in order and reach the route', async () => {
    const { server, url } = await listen(
      appWith((app) => app.use(middlewareChain([step('a'), step('b'), step('c')]))),
    );
    try {
      expect(await answer(url)).toEqual({ status: 200, body: '{"trail":["a","b","c"]}' });
    } finally {
      server.close();
    }
  });

  it('should hand a mapped error on to the app', async () => {
    const { server, url } = await listen(
      appWith((app) =>
        app.use(middlewareChain([step('a'), failing('b'), step('c'), mapping('m'), step('d')])),
      ),
    );
    try {
      expect(await answer(url)).toEqual({
        status: 418,
        body: '{"error":"mapped b failed","trail":["a","b","m(b failed)"]}',
      });
    } finally {
      server.close();
    }
  });
});
