import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { describeGuard } from '@app/common';
import {
  keyOrThekedarAccess,
  ONBOARDING_KEY_ROLES,
  OnboardingSponsor,
  WorkerAdmission,
} from './worker-admission';

type OnboardingRequest = Request & { onboarding?: OnboardingSponsor };

/**
 * Worker creation takes an admin key or a thekedar-signed request. Checked in a guard so that
 * credentials are judged before the body is validated (a stranger learns nothing from 400s);
 * refused signatures become fraud events in the WorkerAdmission (device-trust's
 * AssistedOnboardingService).
 */
@Injectable()
export class OnboardingGuard implements CanActivate {
  constructor(private readonly onboarding: WorkerAdmission) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<OnboardingRequest>();
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    req.onboarding = await this.onboarding.admit(
      {
        apiKey: header('x-api-key'),
        thekedarId: header('x-thekedar-id'),
        deviceId: header('x-device-id'),
        signature: header('x-signature'),
        timestamp: header('x-request-timestamp'),
      },
      req.body,
    );
    return true;
  }
}

/** The OpenAPI side of OnboardingGuard. */
describeGuard(OnboardingGuard, () => keyOrThekedarAccess(ONBOARDING_KEY_ROLES));

/** Who sponsors the worker being created, as OnboardingGuard admitted it. */
export const Onboarding = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): OnboardingSponsor =>
    ctx.switchToHttp().getRequest<OnboardingRequest>().onboarding!,
);
