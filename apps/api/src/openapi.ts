import { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { ExpressAdapter } from '@nestjs/platform-express';
import { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { applyOpenApiDecorators, loadSwagger } from '@app/common';
import { documentAccess } from './openapi-access';
import { documentLimits } from './openapi-limits';

/**
 * The OpenAPI document of the app's controllers. Loads `@nestjs/swagger` (nothing loads it at
 * boot: libs/common/src/http/openapi-decorators.ts) and applies the decorators recorded so far.
 */
export function buildOpenApi(app: INestApplication): OpenAPIObject {
  applyOpenApiDecorators();
  const { DocumentBuilder, SwaggerModule } = loadSwagger();
  const config = new DocumentBuilder()
    .setTitle('MDAI backend')
    .setDescription(
      'Kiosk identity, Wi-Fi provisioning, phone↔kiosk pairing, offline attendance and the biometric vault. ' +
        'The WebSocket protocol is described in docs/protocol.md. Errors share one body: ' +
        '{ statusCode, code, message, correlationId, errors? }; each operation lists, per status, ' +
        'the codes it can answer (docs/errors.md says what each means). Every operation can answer ' +
        "429 rate_limited with Retry-After. An operation's security lists the credentials that admit " +
        'it (any one of them) and x-roles the API-key roles it accepts. A JSON request body is sent as ' +
        'application/json or any application/*+json type (RFC 6839, e.g. application/merge-patch+json), ' +
        'with or without a charset; a body of another type, or one without a Content-Type, on an ' +
        'operation that reads a JSON body answers 415 unsupported_media_type.',
    )
    .setVersion('0.1.0')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'offline-token')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'The mobile token of a pairing session' },
      'session-token',
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'x-signature',
        description:
          "A thekedar's device signature, with x-thekedar-id, x-device-id and x-request-timestamp (see POST /api/v5/workers)",
      },
      'thekedar-signature',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  documentLimits(document, app); // the validators' limits onto the schemas (./openapi-limits.ts)
  // who may call each operation, and its refusals, from the guards (./openapi-access.ts)
  documentAccess(document, app);
  return document;
}

/** Every path `SwaggerModule.setup('docs', …)` serves: /docs, /docs/…, /docs-json, /docs-yaml. */
const DOCS_PATH = /^\/docs(?:$|[/-])/i;

/**
 * Swagger UI's policy: the console's (apps/api/src/console/console-assets.ts) but for styles,
 * which Swagger UI writes inline (its page's <style> blocks, React's style attributes), so
 * 'unsafe-inline' for styles only. Scripts are its three files from here: no inline script,
 * no eval. "Try it out" calls this origin; nothing loads from elsewhere (the validator badge,
 * which Swagger UI shows only for a document fetched by URL, would be an image from
 * validator.swagger.io: refused, not shown).
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The Swagger UI page's other addresses: /docs/ and /docs/index.html. */
const DOCS_PAGE_ALIAS = /^\/docs\/(?:index\.html)?$/i;

/**
 * The middleware that serves Swagger UI at /docs and the document at /docs-json and /docs-yaml,
 * as `SwaggerModule.setup('docs', app, () => buildOpenApi(app), { jsonDocumentUrl: 'docs-json' })`
 * does, but loads `@nestjs/swagger` on the first request to one of those paths instead of at
 * boot. Swagger registers its routes and UI assets on an express Router of their own, reached
 * from this middleware (mounted where setup would have put them); other paths pass straight on.
 * The document is built once, on first use.
 */
export function openApiMiddleware(app: INestApplication): RequestHandler {
  let docs: RequestHandler | undefined;
  const mount = (): RequestHandler => {
    const router = Router();
    const adapter = new ExpressAdapter(router);
    // what SwaggerModule.setup uses of the app: its HTTP adapter, and static assets for the UI
    const host = {
      getHttpAdapter: () => adapter,
      useStaticAssets: (path: string, options: { prefix?: string }) => {
        adapter.useStaticAssets(path, options);
      },
    } as unknown as INestApplication;
    loadSwagger().SwaggerModule.setup('docs', host, () => buildOpenApi(app), {
      jsonDocumentUrl: 'docs-json',
    });
    return router;
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if (!DOCS_PATH.test(req.path)) return next();
    // the page, its assets and the document: framed by no one (clickjacking "Try it out",
    // which sends an API key typed into the page), scripts from here only
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // Swagger UI's page links its assets as ./docs/…: right from /docs only. Its other
    // addresses (/docs/, /docs/index.html) are sent there, with their query, by a relative
    // Location (../docs), which stays right behind a proxy that serves the API under a prefix.
    if (DOCS_PAGE_ALIAS.test(req.path) && (req.method === 'GET' || req.method === 'HEAD')) {
      const query = req.originalUrl.indexOf('?');
      res.redirect(301, `../docs${query === -1 ? '' : req.originalUrl.slice(query)}`);
      return;
    }
    docs ??= mount();
    docs(req, res, next);
  };
}
