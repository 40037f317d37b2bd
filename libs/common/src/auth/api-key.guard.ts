import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Request } from 'express';
import { AuthError } from '../errors/common.errors';
import { apiKeyAccess, describeGuard } from '../http/access-doc';
import { CachedReflector } from '../http/route-metadata';
import { ApiKeyService } from './api-key.service';
import { Principal, Role } from './role';
import { PUBLIC_KEY, ROLES_KEY } from './roles.decorator';

export interface AuthenticatedRequest extends Request {
  principal?: Principal;
}

/**
 * Registered globally: every HTTP route must say either `@Public()` or `@Roles(...)`.
 * A route that says neither is refused, so a forgotten decorator fails closed.
 * Missing or unknown key → 401 `unauthorized`; known key of another role → 403 `forbidden`.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** `@Public()` / `@Roles()` of each route, read once. */
  private readonly reflector = new CachedReflector();

  constructor(private readonly apiKeys: ApiKeyService) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (!roles || roles.length === 0) {
      throw new AuthError('forbidden', 'This route is not open to any role');
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['x-api-key'];
    const { principal } = this.apiKeys.authorize(Array.isArray(header) ? header[0] : header, roles);
    request.principal = principal;
    return true;
  }
}

/** The OpenAPI side of ApiKeyGuard: the same `@Public()` / `@Roles()` reading. */
describeGuard(ApiKeyGuard, ({ handler, controller }) => {
  const reflector = new CachedReflector();
  const targets = [handler, controller];
  if (reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return undefined;
  const roles = reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
  if (!roles || roles.length === 0) return { errors: { 403: ['forbidden'] } };
  return apiKeyAccess(roles);
});
