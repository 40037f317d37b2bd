import {
  applyDecorators,
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiKeyService, describeGuard, Principal, Public, Role } from '@app/common';
import { AssistedOnboardingService, ThekedarSignedRequest } from '@app/device-trust';
import { keyOrThekedarAccess } from '@app/workforce';

/** Who reads or corrects timesheets: a key of an allowed role, or a thekedar's signed request. */
export type TimesheetActor =
  { kind: 'key'; principal: Principal } | { kind: 'thekedar'; signed: ThekedarSignedRequest };

type ActorRequest = Request & { timesheetActor?: TimesheetActor };

const KEY_ROLES = 'timesheets:key-roles';
/** The API key roles a timesheet route accepts (a thekedar's signature is accepted on all). */
export const TimesheetKeyRoles = (...roles: Role[]) => SetMetadata(KEY_ROLES, roles);

/**
 * The credential check of timesheet routes, before the input is validated: an `x-api-key`
 * of a role the route names, or the thekedar-signed scheme of worker creation
 * (`x-thekedar-id`, `x-device-id`, `x-request-timestamp`, `x-signature`). A request with a
 * body signs `<timestamp>.<JCS(body)>`; one without signs `<timestamp>.<JCS({"method","path"})>`
 * with the path as sent, query string included. Signatures are single use. A thekedar works
 * on its sites only: any other `:siteId` (an unknown one the same) is 403 `site_not_allowed`.
 */
@Injectable()
export class TimesheetAccessGuard implements CanActivate {
  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly onboarding: AssistedOnboardingService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ActorRequest>();
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const roles = this.reflector.get<Role[]>(KEY_ROLES, context.getHandler()) ?? [];
    const key = header('x-api-key');
    if (key !== undefined) {
      const { principal } = this.apiKeys.authorize(key, roles);
      req.timesheetActor = { kind: 'key', principal };
      return true;
    }
    const credentials = {
      thekedarId: header('x-thekedar-id'),
      deviceId: header('x-device-id'),
      signature: header('x-signature'),
      timestamp: header('x-request-timestamp'),
    };
    const signedValue =
      req.method === 'GET' ? { method: 'GET', path: req.originalUrl } : (req.body as unknown);
    const purpose = req.method === 'GET' ? 'timesheet read' : 'timesheet correction';
    const signed = await this.onboarding.admitThekedar(credentials, signedValue, purpose);
    // a thekedar reads and corrects at its own sites only (an unknown site answers the same)
    const siteId = String(req.params.siteId);
    await this.onboarding.admitThekedarSites(signed, [siteId], purpose, 'siteId');
    req.timesheetActor = { kind: 'thekedar', signed };
    return true;
  }
}

/** The OpenAPI side of TimesheetAccessGuard: the same `@TimesheetKeyRoles()` reading. */
describeGuard(TimesheetAccessGuard, ({ handler }) =>
  keyOrThekedarAccess(new Reflector().get<Role[] | undefined>(KEY_ROLES, handler) ?? []),
);

export const CurrentTimesheetActor = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): TimesheetActor =>
    ctx.switchToHttp().getRequest<ActorRequest>().timesheetActor!,
);

/**
 * A timesheet route's access in one piece: no global key check (`Public`), this guard instead,
 * accepting a key of `roles` or a thekedar's signed request.
 */
export const TimesheetAccess = (...roles: Role[]) =>
  applyDecorators(Public(), UseGuards(TimesheetAccessGuard), TimesheetKeyRoles(...roles));
