import { Module } from '@nestjs/common';
import { DeviceTrustModule } from '@app/device-trust';
import { WorkforceModule } from '@app/workforce';
import { FraudModule } from '@app/fraud';
import { OfflineSyncModule } from '@app/offline-sync';
import { bindPort } from '@app/persistence';
import { TlogModule } from '@app/tlog';
import { CorrectionService } from './correction.service';
import { timesheetAdapters } from './infrastructure/persistence/timesheet-persistence';
import { TimesheetRepository } from './infrastructure/persistence/timesheet.repository';
import { TimesheetSeal } from './infrastructure/persistence/timesheet-seal';
import { TimesheetAccessGuard } from './timesheet-access.guard';
import { TimesheetProjector } from './timesheet-projector.service';
import { TimesheetsController } from './timesheets.controller';
import { TimesheetsService } from './timesheets.service';
import { PayrollCloseController } from './payroll-close/payroll-close.controller';
import { payrollCloseAdapters } from './payroll-close/payroll-close-persistence';
import { PayrollCloseRepository } from './payroll-close/payroll-close.repository';
import { PayrollCloseService } from './payroll-close/payroll-close.service';

/** Timesheets: a read model of the ledger by worker and local day, corrections, CSV and payroll. */
@Module({
  imports: [OfflineSyncModule, DeviceTrustModule, WorkforceModule, FraudModule, TlogModule],
  controllers: [TimesheetsController, PayrollCloseController],
  providers: [
    TimesheetSeal,
    bindPort(TimesheetRepository, timesheetAdapters),
    TimesheetProjector,
    TimesheetsService,
    CorrectionService,
    bindPort(PayrollCloseRepository, payrollCloseAdapters),
    PayrollCloseService,
    TimesheetAccessGuard,
  ],
  exports: [TimesheetProjector, TimesheetsService],
})
export class TimesheetsModule {}
