import { INestApplication, Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage } from 'node:http';
import { RelayWsAdapter } from '@app/relay';
import { fraudLegacyTaggingWarning } from '@app/fraud';
import { storeMacLegacyWarning, witnessPlacementWarning } from '@app/tlog';
import { Logger } from 'nestjs-pino';
import {
  AccessLog,
  answerClientErrors,
  answerExpectContinue,
  bodyPipeline,
  correlationIdMiddleware,
  Env,
  hostRequired,
  httpMetricsMiddleware,
  JsonReplyExpressAdapter,
  MetricsRegistry,
  middlewareChain,
  noStoreMiddleware,
  TrustProxyFn,
  untrustedForwardingWarning,
  UpgradeThrottle,
} from '@app/common';
import { AppModule, AppModuleOptions } from './app.module';
import { AppConfig, loadConfig } from './config/app-config';
import { openApiMiddleware } from './openapi';
import { ShutdownGrace } from './shutdown-grace';

export interface CreatedApp {
  app: INestApplication;
  config: AppConfig;
}

/**
 * Builds the whole application from an environment record. Used by main.ts, by the
 * end-to-end tests (real port, temp DATA_DIR) and by the OpenAPI script, so all three
 * run exactly the same wiring.
 */
/** How long an idle kept-alive HTTP connection stays open (longer than any client's pool). */
export const HTTP_KEEP_ALIVE_MS = 65_000;

/**
 * The app of a server, or (`job`) of a one-off operator command (`runAppJob`), which says
 * nothing of the deployment: only a server warns of where the witness file is.
 */
export async function createApp(
  env: Env,
  options: AppModuleOptions = {},
  role: 'server' | 'job' = 'server',
): Promise<CreatedApp> {
  const config = loadConfig(env);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, options),
    // express, with handlers' JSON answers written without res.json's generic steps (same bytes)
    new JsonReplyExpressAdapter(),
    { bufferLogs: true, bodyParser: false, abortOnError: false },
  );
  const logger = app.get(Logger);
  app.useLogger(logger);
  const express = app.getHttpAdapter().getInstance() as { get(name: string): unknown };
  // one express layer, run in this order (middleware-chain.ts): express walks a layer per app.use
  app.use(
    middlewareChain([
      correlationIdMiddleware,
      // an HTTP/1.1 request without Host: 400 malformed_request (answerClientErrors below)
      hostRequired,
      // Cache-Control: no-store on every answer under /api and /auth (errors included)
      noStoreMiddleware,
      httpMetricsMiddleware(app.get(MetricsRegistry)),
      ...bodyPipeline({ limitBytes: config.app.jsonBodyLimitBytes, ...config.app.jsonLimits }),
      // Swagger UI at /docs, the document at /docs-json (swagger loads on first use)
      openApiMiddleware(app),
      // the access line and the request's logging scope (LoggingModule would mount it here)
      app.get(AccessLog).middleware,
      // once: X-Forwarded-For from a peer TRUST_PROXY does not trust (a proxy left out of it?);
      // inside the request's logging scope, so the line goes to this app's log
      untrustedForwardingWarning(
        () => express.get('trust proxy fn') as TrustProxyFn,
        (message) => logger.warn(message, 'TrustProxy'),
      ),
    ]),
  );
  app.disable('x-powered-by');
  // An idle kept-alive connection is closed by the client, never under a request it just sent:
  // Node's 5 s default is shorter than clients' pools (nginx upstream keepalive, undici's ~4-5 s
  // fetch pool), and a server closing first races a reused connection (ECONNRESET, nginx 502).
  const server = app.getHttpServer();
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_MS;
  server.headersTimeout = HTTP_KEEP_ALIVE_MS + 1_000; // must outlast keepAliveTimeout
  // what Node's parser refuses before any route (431, 400, 408) gets the API's error body
  // and a body that stops arriving (HTTP_BODY_IDLE_TIMEOUT_MS, HTTP_JSON_BODY_TIMEOUT_MS) or
  // comes slower than HTTP_BODY_MIN_RATE_BYTES_PER_SEC is answered 408, a body the client
  // half-closed before its end 400 request_aborted; a chunked body (no Content-Length) is given
  // the time of the largest body a route takes (a vault image)
  answerClientErrors(
    server,
    (code, correlationId, since) =>
      logger.warn({ code, correlationId, since }, 'Request refused by the HTTP parser'),
    { ...config.app.bodyTimeouts, chunkedBodyBytes: config.vault.maxFileBytes },
  );
  // an upload over its bound (a JSON body: JSON_BODY_LIMIT_BYTES; any other: the largest a route
  // takes), announced with Expect: 100-continue: 413 before the body
  answerExpectContinue(
    server,
    Math.max(config.app.jsonBodyLimitBytes, config.vault.maxFileBytes),
    config.app.jsonBodyLimitBytes,
  );
  app.set('trust proxy', config.app.trustProxy);
  const upgrades = app.get(UpgradeThrottle);
  const clientIp = clientIpOf(app);
  app.useWebSocketAdapter(
    new RelayWsAdapter(app, (request) => upgrades.retryAfter(clientIp(request))),
  );
  app.enableShutdownHooks();
  // a server's exit timer (grace + margin) is armed the moment SIGTERM/SIGINT arrives once the
  // app has bootstrapped, before any step of the close that could hang; one during the start-up
  // lets the start-up finish first (ShutdownGrace); a job's signalled close has none, as before
  // (it has no listener, hence no drain)
  if (role === 'server') app.get(ShutdownGrace).armOnSignals();
  const bootLog = new NestLogger('Bootstrap');
  for (const notice of config.notices) bootLog.log(notice);
  if (config.upstream.url !== undefined && !config.upstream.apiKey) {
    // allowed (an upstream on a private network may ask for none), but more likely forgotten
    // this app's own logger (the static one is shared by every app of a process)
    logger.warn(
      'UPSTREAM_URL is set without UPSTREAM_API_KEY: face submissions go upstream without an x-api-key header',
      'Bootstrap',
    );
  }
  const witnessWarning =
    role === 'server' && witnessPlacementWarning(config.tlog.witnessFile, config.app);
  if (witnessWarning) logger.warn(witnessWarning, 'Bootstrap');
  const legacyMac = role === 'server' && storeMacLegacyWarning(config.tlog);
  if (legacyMac) logger.warn(legacyMac, 'Bootstrap');
  const legacyTagging = role === 'server' && fraudLegacyTaggingWarning(config.fraud, config.app);
  if (legacyTagging) logger.warn(legacyTagging, 'Bootstrap');
  bootLog.log(
    `store: ${config.database.driver}; relay bus: ${config.redis.url ? 'redis' : 'in-process'}`,
  );
  return { app, config };
}

/**
 * An upgrade request's client address as express's `req.ip` gives it for a request (the app's
 * `trust proxy` applied): read through express's request prototype, which the upgrade's bare
 * request does not have.
 */
function clientIpOf(app: NestExpressApplication): (request: IncomingMessage) => string {
  const express = app.getHttpAdapter().getInstance() as { request: object };
  return (request) => {
    const view = Object.create(express.request, {
      app: { value: express },
      headers: { value: request.headers },
      socket: { value: request.socket },
      connection: { value: request.socket },
    }) as { ip?: string };
    return view.ip ?? request.socket.remoteAddress ?? '';
  };
}
