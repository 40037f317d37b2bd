import { Module } from '@nestjs/common';
import { KioskRegistryModule } from '@app/kiosk-registry';
import { bindPort } from '@app/persistence';
import { TlogModule } from '@app/tlog';
import { VaultModule } from '@app/vault';
import { provisioningAdapters } from './infrastructure/persistence/provisioning-persistence';
import { WifiChallengeRepository } from './infrastructure/persistence/wifi-challenge.repository';
import { ProvisioningController } from './provisioning.controller';
import { ProvisioningService } from './provisioning.service';

/** Wi-Fi credentials for kiosks by RSA challenge QR. */
@Module({
  imports: [KioskRegistryModule, VaultModule, TlogModule],
  controllers: [ProvisioningController],
  providers: [bindPort(WifiChallengeRepository, provisioningAdapters), ProvisioningService],
  exports: [ProvisioningService],
})
export class ProvisioningModule {}
