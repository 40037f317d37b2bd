import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { TlogModule } from '@app/tlog';
import { KioskDeviceRepository } from './infrastructure/persistence/kiosk-device.repository';
import { kioskDeviceAdapters } from './infrastructure/persistence/kiosk-persistence';
import { KioskController } from './kiosk.controller';
import { KioskRegistryService } from './kiosk-registry.service';
import { KioskSeal } from './infrastructure/persistence/kiosk-seal';

/**
 * The kiosk registry: kiosks' TrustZone public keys, rotation, block and unblock, their
 * events, and the check of a kiosk's signed auth message (Provisioning and Relay use it).
 */
@Module({
  imports: [TlogModule],
  controllers: [KioskController],
  providers: [
    KioskSeal,
    bindPort(KioskDeviceRepository, kioskDeviceAdapters),
    KioskRegistryService,
  ],
  exports: [KioskRegistryService],
})
export class KioskRegistryModule {}
