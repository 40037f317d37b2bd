import { INestApplication } from '@nestjs/common';
import {
  GUARDS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ApplicationConfig, ModulesContainer, Reflector } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import {
  AccessDoc,
  BODY_PIPELINE_ERRORS,
  CredentialDoc,
  guardDescriber,
  HANDLER_CREDENTIAL_KEY,
  readsBody,
  RouteTargets,
} from '@app/common';
import { ERROR_CATALOGS, ERROR_STATUS } from './errors/error-status';

/**
 * Writes, on every operation of the OpenAPI document, who may call it and what it answers
 * when it refuses, from the code that decides it: each guard that runs on the route (the
 * global ones and its `@UseGuards`) describes itself (`describeGuard`, beside the guard class,
 * reading the metadata the guard reads), and a `@HandlerCredential` says what a handler's own
 * check takes. From these:
 *
 * - `security`: the credentials that admit the call (any one of them), `x-roles` the key roles;
 * - one error answer per status, each the shared ErrorBody with `code` narrowed to the codes
 *   that status can carry on this route: the guards' codes, the body pipeline's
 *   (`BODY_PIPELINE_ERRORS`) on routes that read a body (`readsBody`, JsonBodyGuard's test),
 *   `validation_failed` where a body or a DTO is validated, and the codes named in the
 *   route's own `@ApiResponse` descriptions (its domain errors);
 * - 429 carries `Retry-After`.
 *
 * A guard without a description, an operation no route backs, a code whose status is not the
 * one it is listed under, or an error answer left with no code (a hand-written one naming none,
 * on a route where nothing else gives that status one) stops the build of the document (and
 * `npm run openapi`, and the spec that holds docs/openapi.json to the controllers).
 */
export function documentAccess(document: OpenAPIObject, app: INestApplication): void {
  const globalGuards = app
    .get(ApplicationConfig)
    .getGlobalGuards()
    .map((guard) => guard.constructor);
  const operations = operationsById(document);
  const seen = new Set<string>();
  const reflector = new Reflector();
  for (const module of app.get(ModulesContainer).values()) {
    const moduleName = kebab(module.metatype.name.replace(/Module$/, ''));
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as RouteTargets['controller'] | null;
      if (!controller) continue;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const id = `${controller.name}_${name}`;
        const operation = operations.get(id);
        if (!operation) continue; // an excluded controller (console, metrics)
        seen.add(id);
        const route = { handler, controller } as RouteTargets;
        const guards = [
          ...globalGuards,
          ...((Reflect.getMetadata(GUARDS_METADATA, controller) as object[] | undefined) ?? []),
          ...((Reflect.getMetadata(GUARDS_METADATA, handler) as object[] | undefined) ?? []),
        ];
        const docs: AccessDoc[] = guards.map((guard) => {
          const describe = guardDescriber(guard);
          if (!describe) {
            throw new Error(
              `${(guard as { name?: string }).name ?? 'a guard'} on ${id} has no describeGuard(): the OpenAPI document cannot say what it takes`,
            );
          }
          return describe(route) ?? { errors: {} };
        });
        const own = reflector.getAllAndOverride<AccessDoc | undefined>(HANDLER_CREDENTIAL_KEY, [
          handler,
          controller,
        ]);
        if (own) docs.push(own);
        docs.push(...pipelineErrors(route));
        applyAccess(id, operation.op, docs, moduleName);
      }
    }
  }
  const unbacked = [...operations.keys()].filter((id) => !seen.has(id));
  if (unbacked.length > 0) throw new Error(`operations without a route: ${unbacked.join(', ')}`);
}

interface Operation {
  operationId?: string;
  description?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, Response>;
  'x-roles'?: string[];
}

interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: { $ref?: string; allOf?: unknown[] } }>;
}

function operationsById(document: OpenAPIObject): Map<string, { op: Operation }> {
  const byId = new Map<string, { op: Operation }>();
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item as Record<string, Operation>)) {
      if (op && typeof op === 'object' && op.operationId) byId.set(op.operationId, { op });
    }
  }
  return byId;
}

/**
 * What the pipeline before the handler answers. A route that reads a body (as JsonBodyGuard
 * decides it, `readsBody`): every refusal of the body pipeline (`BODY_PIPELINE_ERRORS`, what it
 * raises) and `validation_failed` (the ValidationPipe's, or the handler's own check of a body it
 * takes untyped, as the sync's). Another route: `validation_failed` where a query or path DTO is
 * validated. JsonBodyGuard's 415 comes from its own description.
 */
function pipelineErrors({ handler, controller }: RouteTargets): AccessDoc[] {
  if (readsBody(controller, handler)) {
    return [{ errors: { 400: ['validation_failed'] } }, { errors: BODY_PIPELINE_ERRORS }];
  }
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) ?? {}) as Record<
    string,
    { index: number }
  >;
  const prototype = controller.prototype as object;
  const types = (Reflect.getMetadata('design:paramtypes', prototype, handler.name) ??
    []) as unknown[];
  const validated = Object.entries(args).some(([key, { index }]) => {
    const type = Number(key.split(':')[0]);
    return (
      isDto(types[index]) &&
      (type === Number(RouteParamtypes.QUERY) || type === Number(RouteParamtypes.PARAM))
    );
  });
  return validated ? [{ errors: { 400: ['validation_failed'] } }] : [];
}

/** A class the ValidationPipe validates (not a primitive's wrapper, not Object). */
function isDto(type: unknown): boolean {
  return (
    typeof type === 'function' &&
    ![String, Number, Boolean, Object, Array, Promise].includes(type as never)
  );
}

const SCHEME_WORDS: Record<CredentialDoc['scheme'], string> = {
  'api-key': 'an `x-api-key`',
  'offline-token': 'an offline token (`Authorization: Bearer`)',
  'session-token': "a pairing session's mobile token (`Authorization: Bearer`)",
  'thekedar-signature':
    "a thekedar's device signature (`x-thekedar-id`, `x-device-id`, `x-request-timestamp`, `x-signature`)",
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'No credential, or one the server does not accept',
  403: 'The credential is known but may not do this',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  423: 'Locked',
  429: 'Rate limited: retry after `Retry-After` seconds',
  500: 'Internal error',
  503: 'Unavailable: retry later',
};

/**
 * The module whose check answers for a credential scheme: a code its own module does not
 * declare (a guard's refusal) means what the credential's module says of it.
 */
const SCHEME_MODULES: Readonly<Record<string, string>> = {
  'thekedar-signature': 'device-trust',
  'offline-token': 'offline-sync',
  'session-token': 'session',
};

function applyAccess(id: string, op: Operation, docs: AccessDoc[], module: string): void {
  const sources = docs.filter((d) => (d.credentials ?? []).length > 0);
  if (sources.length > 1) {
    throw new Error(`${id}: more than one check asks for a credential; describe them as one`);
  }
  const credentials = sources[0]?.credentials ?? [];
  delete op.security;
  delete op['x-roles'];
  if (credentials.length > 0) {
    op.security = credentials.map((c) => ({ [c.scheme]: [] }));
    const roles = credentials.flatMap((c) => c.roles ?? []);
    if (roles.length > 0) op['x-roles'] = [...new Set(roles)];
    const access = credentials
      .map((c) =>
        c.roles
          ? `${SCHEME_WORDS[c.scheme]} of role ${c.roles.join(' or ')}`
          : SCHEME_WORDS[c.scheme],
      )
      .join(', or ');
    op.description = [`**Access:** ${access}.`, op.description].filter(Boolean).join('\n\n');
  }

  const codes = new Map<number, string[]>();
  const add = (status: number, list: readonly string[]) => {
    const known = codes.get(status) ?? [];
    for (const code of list) if (!known.includes(code)) known.push(code);
    codes.set(status, known);
  };
  for (const doc of docs) {
    for (const [status, list] of Object.entries(doc.errors)) add(Number(status), list ?? []);
  }
  // the route's own error answers (its domain errors), as its @ApiResponse descriptions name them
  for (const [key, response] of Object.entries(op.responses)) {
    const status = Number(key);
    if (!(status >= 400) || !isErrorBody(response)) continue;
    add(status, codesNamedIn(response.description ?? ''));
  }

  for (const [status, list] of codes) {
    if (list.length === 0) {
      // a hand-written error answer that names no code and that nothing on the route gives one
      // (a controller-wide "Invalid input" on a route that takes none): say what it answers, or
      // write it only on the routes that answer it
      throw new Error(
        `${id}: its ${status} error answer ("${op.responses[String(status)]?.description ?? ''}") names no error code, and no guard or pipeline step gives one here`,
      );
    }
    // a code several modules declare (`device_blocked`: a kiosk, a worker's phone) means what
    // the route's own module says of it, else the module of one of its credentials
    const own = [module, ...credentials.map((c) => SCHEME_MODULES[c.scheme])];
    const meanings = list.map((code) => `\`${code}\`: ${meaningOf(id, code, status, own)}`);
    // a hand-written description that says more than its codes leads; else the status's words
    const previous = op.responses[String(status)]?.description ?? '';
    const more = previous.replace(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|[\s,:;]/g, '') !== '';
    const lead = more ? previous : STATUS_TEXT[status];
    op.responses[String(status)] = {
      description: [lead, ...meanings.map((m) => `- ${m}`)].filter(Boolean).join('\n'),
      ...(status === 429
        ? {
            headers: {
              'Retry-After': {
                description: 'Seconds to wait before the next request',
                schema: { type: 'integer', minimum: 1 },
              },
            },
          }
        : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/ErrorBody' },
              { type: 'object', properties: { code: { type: 'string', enum: list } } },
            ],
          },
        },
      },
    };
  }
  op.responses = Object.fromEntries(
    Object.entries(op.responses).sort(([a], [b]) => Number(a) - Number(b)),
  );
}

/** An error answer written with `type: ErrorBody` (under whatever types the route produces). */
function isErrorBody(response: Response): boolean {
  return Object.values(response.content ?? {}).some(
    (media) => media.schema?.$ref === '#/components/schemas/ErrorBody',
  );
}

/** Every catalog code: where the descriptions name one, it is that code. */
const ALL_CODES = new Set(ERROR_CATALOGS.flatMap((c) => Object.keys(c.codes)));

/** The codes a description names: snake_case words, and a one-word code that opens it (`forbidden: …`). */
function codesNamedIn(description: string): string[] {
  const words = description.match(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g) ?? [];
  const opening = /^([a-z]+)(?::|$)/.exec(description)?.[1];
  return [...(opening ? [opening] : []), ...words].filter((w) => ALL_CODES.has(w));
}

/**
 * The catalog meaning of `code` answered with `status`: the first of the `own` modules' catalogs
 * that answers it so, else the first catalog that does; throws when none does.
 */
function meaningOf(id: string, code: string, status: number, own: (string | undefined)[]): string {
  const preferred = own.flatMap((m) => ERROR_CATALOGS.filter((c) => c.module === m));
  for (const catalog of [...preferred, ...ERROR_CATALOGS]) {
    const statuses = ERROR_STATUS[catalog.module] as Readonly<Record<string, number>>;
    if (statuses[code] === status) return (catalog.codes as Record<string, string>)[code];
  }
  throw new Error(
    `${id}: error code ${code} is listed under ${status}, but no module answers it so`,
  );
}

/** `DeviceTrust` → `device-trust`: a Nest module's name as its catalog's module. */
function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
