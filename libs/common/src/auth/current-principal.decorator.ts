import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { AuthenticatedRequest } from './api-key.guard';
import { Principal } from './role';

/** The principal the ApiKeyGuard resolved for this request. */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => {
    const request = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    return request.principal ?? { roles: [], keyId: 'anonymous' };
  },
);
