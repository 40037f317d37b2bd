import { Module } from '@nestjs/common';
import { DeviceTrustModule } from '@app/device-trust';
import { WorkforceModule } from '@app/workforce';
import { FraudModule } from '@app/fraud';
import { TlogModule } from '@app/tlog';
import { bindPort } from '@app/persistence';
import { AttendanceLogRepository } from './infrastructure/persistence/attendance-log.repository';
import { attendanceLogAdapters } from './infrastructure/persistence/ledger-persistence';
import { LedgerController } from './ledger.controller';
import { LedgerService } from './ledger.service';
import { OfflineSyncController } from './offline-sync.controller';
import { SyncMetrics } from './offline-sync.metrics';
import { OfflineSyncService } from './offline-sync.service';
import { PacketCheckPool } from './packet-check.pool';

/** Offline attendance: signed batch sync into the per-site hash-chained ledger. */
@Module({
  imports: [DeviceTrustModule, WorkforceModule, FraudModule, TlogModule],
  controllers: [OfflineSyncController, LedgerController],
  providers: [
    bindPort(AttendanceLogRepository, attendanceLogAdapters),
    LedgerService,
    OfflineSyncService,
    PacketCheckPool,
    SyncMetrics,
  ],
  exports: [OfflineSyncService, LedgerService],
})
export class OfflineSyncModule {}
