import { Global, Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { FraudModule } from '@app/fraud';
import { TlogModule } from '@app/tlog';
import { VaultModule } from '@app/vault';
import { WorkerAdmission, WorkforceModule } from '@app/workforce';
import { AssistedOnboardingService } from './assisted-onboarding.service';
import { DeviceTrustController } from './device-trust.controller';
import { DeviceTrustService } from './device-trust.service';
import { WorkerDeviceRepository } from './infrastructure/persistence/worker-device.repository';
import { OnboardingNonceRepository } from './infrastructure/persistence/onboarding-nonce.repository';
import { IssuedTokenRepository } from './infrastructure/persistence/issued-token.repository';
import {
  issuedTokenAdapters,
  onboardingNonceAdapters,
  workerDeviceAdapters,
} from './infrastructure/persistence/worker-persistence';
import { WorkerDeviceSeal } from './infrastructure/persistence/worker-device-seal';
import { IssuedTokens } from './token/issued-tokens.service';
import { SigningKeyService } from './token/signing-key.service';
import { TokenManager } from './token/token-manager.service';
import { WorkerDeviceController } from './worker-device.controller';
import { WorkerDeviceService } from './worker-device.service';
import { TokenRefreshService } from './token-refresh.service';

/**
 * Worker devices and their trust: worker phones with sealed secrets, trust scores, the
 * offline tokens they carry, and thekedar-signed requests (assisted onboarding). Sites,
 * thekedars and workers are the workforce module's; kiosks are the kiosk registry's.
 */
@Module({
  imports: [VaultModule, FraudModule, WorkforceModule, TlogModule],
  controllers: [WorkerDeviceController, DeviceTrustController],
  providers: [
    WorkerDeviceSeal,
    bindPort(WorkerDeviceRepository, workerDeviceAdapters),
    bindPort(OnboardingNonceRepository, onboardingNonceAdapters),
    bindPort(IssuedTokenRepository, issuedTokenAdapters),
    WorkerDeviceService,
    DeviceTrustService,
    AssistedOnboardingService,
    TokenRefreshService,
    SigningKeyService,
    TokenManager,
    IssuedTokens,
  ],
  exports: [
    AssistedOnboardingService,
    WorkerDeviceService,
    DeviceTrustService,
    SigningKeyService,
    TokenManager,
    IssuedTokens,
  ],
})
export class DeviceTrustModule {}

/**
 * Binds workforce's WorkerAdmission port (asked by OnboardingGuard on POST /api/v5/workers)
 * to AssistedOnboardingService. Global so the workforce module sees it without importing
 * device-trust (which imports workforce): the library graph stays acyclic.
 */
@Global()
@Module({
  imports: [DeviceTrustModule],
  providers: [{ provide: WorkerAdmission, useExisting: AssistedOnboardingService }],
  exports: [WorkerAdmission],
})
export class WorkerAdmissionModule {}
