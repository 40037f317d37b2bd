import { Module } from '@nestjs/common';
import { DeviceTrustModule } from '@app/device-trust';
import { bindPort } from '@app/persistence';
import { VaultModule } from '@app/vault';
import { provisioningAdapters } from './infrastructure/persistence/provisioning-persistence';
import { WifiChallengeRepository } from './infrastructure/persistence/wifi-challenge.repository';
import { ProvisioningController } from './provisioning.controller';
import { ProvisioningService } from './provisioning.service';

/** Wi-Fi credentials for kiosks by RSA challenge QR. */
@Module({
  imports: [DeviceTrustModule, VaultModule],
  controllers: [ProvisioningController],
  providers: [bindPort(WifiChallengeRepository, provisioningAdapters), ProvisioningService],
  exports: [ProvisioningService],
})
export class ProvisioningModule {}
