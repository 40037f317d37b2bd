import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { RedisService } from '@app/common';
import { KioskRegistryModule } from '@app/kiosk-registry';
import { SessionModule } from '@app/session';
import { VaultModule } from '@app/vault';
import { InProcessRelayBus } from './bus/in-process-relay-bus';
import { RedisRelayBus } from './bus/redis-relay-bus';
import { RelayBus } from './bus/relay-bus';
import { FaceSubmissionService } from './face-submission.service';
import {
  DeviceGateway,
  LegacyAppGateway,
  LegacyHardwareGateway,
  MobileGateway,
} from './gateways/relay.gateways';
import { LegacyHandler } from './handlers/legacy.handler';
import { PairingHandler } from './handlers/pairing.handler';
import { RelayDelivery } from './relay-delivery';
import { RelayHub } from './relay-hub';
import { RelayIntake } from './relay-intake';
import { RelayMetrics } from './relay.metrics';
import { UpstreamClient } from './upstream/upstream.client';

/** The WebSocket relay between phones and kiosks (new and legacy protocols). */
@Module({
  imports: [HttpModule, SessionModule, KioskRegistryModule, VaultModule],
  providers: [
    {
      // chosen once from config: Redis pub/sub when REDIS_URL is set, else in-process
      provide: RelayBus,
      inject: [RedisService],
      useFactory: (redis: RedisService) =>
        redis.enabled
          ? new RedisRelayBus(redis.client('relay-pub'), redis.client('relay-sub'))
          : new InProcessRelayBus(),
    },
    RelayMetrics,
    UpstreamClient,
    FaceSubmissionService,
    PairingHandler,
    LegacyHandler,
    RelayDelivery,
    RelayIntake,
    RelayHub,
    MobileGateway,
    DeviceGateway,
    LegacyAppGateway,
    LegacyHardwareGateway,
  ],
  exports: [RelayHub],
})
export class RelayModule {}
