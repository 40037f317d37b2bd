import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { PACKET_RULES } from './domain/packet-rule';
import { FraudController } from './fraud.controller';
import { FraudService } from './fraud.service';
import { FraudEventRepository } from './infrastructure/persistence/fraud-event.repository';
import { fraudEventAdapters } from './infrastructure/persistence/fraud-persistence';

/**
 * Fraud: the event log every sync rejection writes to, and the seam (PACKET_RULES) where the
 * pattern rules engine plugs in.
 */
@Module({
  controllers: [FraudController],
  providers: [
    bindPort(FraudEventRepository, fraudEventAdapters),
    { provide: PACKET_RULES, useValue: [] },
    FraudService,
  ],
  exports: [FraudService],
})
export class FraudModule {}
