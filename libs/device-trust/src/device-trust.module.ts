import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { FraudModule } from '@app/fraud';
import { VaultModule } from '@app/vault';
import { AssistedOnboardingService } from './assisted-onboarding.service';
import { DeviceTrustController } from './device-trust.controller';
import { DeviceTrustService } from './device-trust.service';
import { KioskDeviceRepository } from './infrastructure/persistence/kiosk-device.repository';
import { kioskDeviceAdapters } from './infrastructure/persistence/kiosk-persistence';
import { WorkerDeviceRepository } from './infrastructure/persistence/worker-device.repository';
import { OnboardingNonceRepository } from './infrastructure/persistence/onboarding-nonce.repository';
import {
  onboardingNonceAdapters,
  workerDeviceAdapters,
  workforceAdapters,
} from './infrastructure/persistence/worker-persistence';
import { WorkforceRepository } from './infrastructure/persistence/workforce.repository';
import { KioskController } from './kiosk.controller';
import { KioskRegistryService } from './kiosk-registry.service';
import { SigningKeyService } from './token/signing-key.service';
import { TokenManager } from './token/token-manager.service';
import { WorkerDeviceController } from './worker-device.controller';
import { WorkerDeviceService } from './worker-device.service';
import { WorkforceController } from './workforce.controller';
import { TokenRefreshService } from './token-refresh.service';
import { WorkforceService } from './workforce.service';

/**
 * Device identity and trust: kiosk keys (TrustZone), and the worker side: sites, thekedars,
 * workers, worker phones with sealed secrets, and the offline tokens they carry.
 */
@Module({
  imports: [VaultModule, FraudModule],
  controllers: [
    KioskController,
    WorkforceController,
    WorkerDeviceController,
    DeviceTrustController,
  ],
  providers: [
    bindPort(KioskDeviceRepository, kioskDeviceAdapters),
    bindPort(WorkforceRepository, workforceAdapters),
    bindPort(WorkerDeviceRepository, workerDeviceAdapters),
    bindPort(OnboardingNonceRepository, onboardingNonceAdapters),
    KioskRegistryService,
    WorkforceService,
    WorkerDeviceService,
    DeviceTrustService,
    AssistedOnboardingService,
    TokenRefreshService,
    SigningKeyService,
    TokenManager,
  ],
  exports: [
    AssistedOnboardingService,
    KioskRegistryService,
    WorkforceService,
    WorkerDeviceService,
    DeviceTrustService,
    SigningKeyService,
    TokenManager,
  ],
})
export class DeviceTrustModule {}
