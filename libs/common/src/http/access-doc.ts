import { SetMetadata } from '@nestjs/common';
import type { Role } from '../auth/role';

/**
 * What docs/openapi.json says about who may call a route and what a refused call answers,
 * derived from the guards themselves: each guard class registers, beside its code, a function
 * that reads the same route metadata the guard reads (`describeGuard`), and routes whose handler
 * checks its own credential say so once with `@HandlerCredential` (the handler's check reads
 * the same constant). `buildOpenApi` (apps/api/src/openapi-access.ts) asks every guard that
 * runs on each route, global ones included, and writes the operation's `security`, `x-roles`
 * and error answers; a guard with no description stops the document from being built.
 */

/** The security schemes the document declares (apps/api/src/openapi.ts). */
export type SecuritySchemeName =
  'api-key' | 'offline-token' | 'session-token' | 'thekedar-signature';

/** One credential that is enough on its own; `roles` when it is a key of one of these roles. */
export interface CredentialDoc {
  scheme: SecuritySchemeName;
  roles?: readonly Role[];
}

/** HTTP status → the error codes a route can answer with it (each code's status comes from the status table). */
export type ErrorCodesByStatus = Partial<Record<number, readonly string[]>>;

export interface AccessDoc {
  /** Alternatives: any one of these admits the request. Empty or absent: no credential. */
  credentials?: readonly CredentialDoc[];
  /** What the check answers when it refuses. */
  errors: ErrorCodesByStatus;
}

/** The handler and the controller class of a route (what `Reflector` reads metadata on). */
export interface RouteTargets {
  handler: (...args: never[]) => unknown;
  controller: abstract new (...args: never[]) => unknown;
}

type GuardDescriber = (route: RouteTargets) => AccessDoc | undefined;

const describers = new Map<object, GuardDescriber>();

/**
 * Registers what `guard` asks and answers on a route (undefined: nothing on this one). Written
 * next to the guard class, reading the metadata the guard reads, so they cannot disagree.
 */
export function describeGuard(guard: object, describe: GuardDescriber): void {
  describers.set(guard, describe);
}

/** The registered description of a guard class, if any. */
export function guardDescriber(guard: object): GuardDescriber | undefined {
  return describers.get(guard);
}

export const HANDLER_CREDENTIAL_KEY = 'mdai:handler-credential';

/**
 * The route is `@Public()` for the guards because its handler checks a credential of its own
 * (an offline token, a session token, a key in the body): `access` is what that check accepts
 * and answers. Declare `access` as a constant beside the check, and use it in both places.
 */
export const HandlerCredential = (access: AccessDoc) => SetMetadata(HANDLER_CREDENTIAL_KEY, access);

/** An `x-api-key` of one of `roles`, refused as ApiKeyService.authorize refuses. */
export function apiKeyAccess(roles: readonly Role[]): AccessDoc {
  return {
    credentials: [{ scheme: 'api-key', roles }],
    errors: { 401: ['unauthorized'], 403: ['forbidden'] },
  };
}
