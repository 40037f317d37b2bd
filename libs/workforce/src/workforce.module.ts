import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { TlogModule } from '@app/tlog';
import { workforceAdapters } from './infrastructure/persistence/workforce-persistence';
import { WorkforceRepository } from './infrastructure/persistence/workforce.repository';
import { WorkerSeal } from './infrastructure/persistence/worker-seal';
import { SiteSeal, ThekedarSeal } from './infrastructure/persistence/site-seal';
import { WorkforceController } from './workforce.controller';
import { WorkforceService } from './workforce.service';

/**
 * The workforce: sites, thekedars, workers and their enrollment codes. Worker creation is
 * admitted by OnboardingGuard through the WorkerAdmission port (an admin key or a thekedar's
 * signed request), which device-trust implements and binds (WorkerAdmissionModule).
 */
@Module({
  imports: [TlogModule],
  controllers: [WorkforceController],
  providers: [
    WorkerSeal,
    SiteSeal,
    ThekedarSeal,
    bindPort(WorkforceRepository, workforceAdapters),
    WorkforceService,
  ],
  exports: [WorkforceService],
})
export class WorkforceModule {}
