import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { TlogModule } from '@app/tlog';
import { PACKET_RULES, PacketRule } from './domain/packet-rule';
import { FraudController } from './fraud.controller';
import { FraudMetrics } from './fraud.metrics';
import { FraudService } from './fraud.service';
import { FraudEventRepository } from './infrastructure/persistence/fraud-event.repository';
import { fraudEventAdapters } from './infrastructure/persistence/fraud-persistence';
import { FraudSeal } from './infrastructure/persistence/fraud-seal';
import { GeofenceRule } from './rules/geofence.rule';
import { ImpossibleTravelRule } from './rules/impossible-travel.rule';
import { RapidRepeatRule } from './rules/rapid-repeat.rule';
import { SharedDeviceRule } from './rules/shared-device.rule';

const RULES = [ImpossibleTravelRule, GeofenceRule, RapidRepeatRule, SharedDeviceRule];

/**
 * Fraud: the event log every sync rejection writes to, and the pattern rules (PACKET_RULES)
 * that flag accepted packets.
 */
@Module({
  imports: [TlogModule],
  controllers: [FraudController],
  providers: [
    FraudSeal,
    bindPort(FraudEventRepository, fraudEventAdapters),
    ...RULES,
    {
      provide: PACKET_RULES,
      inject: RULES,
      useFactory: (...rules: PacketRule[]) => rules,
    },
    FraudMetrics,
    FraudService,
  ],
  exports: [FraudService],
})
export class FraudModule {}
