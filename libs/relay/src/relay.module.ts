import { Module } from '@nestjs/common';
import { Clock, RedisService } from '@app/common';
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
import { KioskPresence } from './presence/kiosk-presence';
import { KioskPresenceController } from './presence/kiosk-presence.controller';
import { RelayDelivery } from './relay-delivery';
import { RelayHub } from './relay-hub';
import { RelayIntake } from './relay-intake';
import { relayConfig, RelaySettings } from './relay.config';
import { RelayMetrics } from './relay.metrics';
import { UpstreamClient } from './upstream/upstream.client';

/** The WebSocket relay between phones and kiosks (new and legacy protocols). */
@Module({
  imports: [SessionModule, KioskRegistryModule, VaultModule],
  controllers: [KioskPresenceController],
  providers: [
    {
      // chosen once from config: Redis pub/sub when REDIS_URL is set, else in-process
      provide: RelayBus,
      inject: [RedisService, relayConfig.KEY],
      useFactory: (redis: RedisService, settings: RelaySettings) =>
        redis.enabled
          ? new RedisRelayBus(
              redis.client('relay-pub'),
              redis.client('relay-sub'),
              settings.slotTtlMs,
              (policy) => redis.notePolicy(policy),
            )
          : new InProcessRelayBus(),
    },
    {
      // which kiosks are in a session: this instance's sockets, and Redis across instances
      provide: KioskPresence,
      inject: [RedisService, relayConfig.KEY, Clock],
      useFactory: (redis: RedisService, settings: RelaySettings, clock: Clock) =>
        new KioskPresence(
          settings.slotTtlMs,
          clock,
          redis.enabled ? redis.client('relay-pub') : undefined,
        ),
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
