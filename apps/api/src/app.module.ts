import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { DestinationStream } from 'pino';
import {
  ApiKeyGuard,
  AppThrottlerGuard,
  AuthModule,
  Clock,
  ClockModule,
  createValidationPipe,
  SingleQueryValuePipe,
  HttpExceptionFilter,
  JsonBodyGuard,
  LoggingModule,
  MetricsModule,
  RateLimitModule,
  RedisModule,
} from '@app/common';
import { PersistenceModule } from '@app/persistence';
import { DeviceTrustModule, WorkerAdmissionModule } from '@app/device-trust';
import { FraudModule } from '@app/fraud';
import { KioskRegistryModule } from '@app/kiosk-registry';
import { OfflineSyncModule } from '@app/offline-sync';
import { ProvisioningModule } from '@app/provisioning';
import { RelayModule } from '@app/relay';
import { SessionModule } from '@app/session';
import { TimesheetsModule } from '@app/timesheets';
import { VaultModule } from '@app/vault';
import { WorkforceModule } from '@app/workforce';
import { ConsoleController } from './console/console.controller';
import { ERROR_STATUS } from './errors/error-status';
import { HealthController } from './health/health.controller';
import { UnheldStoreMacKeys } from './health/unheld-store-mac-keys';
import { HealthChecks } from './health/health-checks';
import { WhoAmIController } from './whoami/whoami.controller';
import { ResealAllJob } from './reseal-all.job';
import { ShutdownGrace } from './shutdown-grace';
import { TlogLeafSources } from './tlog-leaf-sources';
import { UnsealedTailSweep } from './unsealed-tail-sweep';
import { AppConfig, configModule } from './config/app-config';

export interface AppModuleOptions {
  /** Where log lines go (stdout when unset). */
  logStream?: DestinationStream;
  /** Where "now" comes from (the system clock unless a test passes a controllable one). */
  clock?: Clock;
}

/** Composes the system from validated config. Only boot and composition live in apps/api. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModule(config),
        ClockModule.forRoot(options.clock),
        LoggingModule.forRoot({
          level: config.app.logLevel,
          stream: options.logStream,
          mountAccessLog: false, // createApp mounts it with the other app-wide middlewares
        }),
        PersistenceModule.forRoot(config.database),
        RedisModule,
        AuthModule,
        MetricsModule,
        RateLimitModule,
        VaultModule,
        FraudModule,
        KioskRegistryModule,
        WorkforceModule,
        DeviceTrustModule,
        WorkerAdmissionModule,
        ProvisioningModule,
        SessionModule,
        RelayModule,
        OfflineSyncModule,
        TimesheetsModule,
      ],
      controllers: [HealthController, WhoAmIController, ConsoleController],
      providers: [
        ResealAllJob,
        HealthChecks,
        UnheldStoreMacKeys,
        ShutdownGrace,
        TlogLeafSources,
        UnsealedTailSweep,
        // a repeated query parameter is refused as such before the ValidationPipe reads it
        { provide: APP_PIPE, useClass: SingleQueryValuePipe },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useFactory: () => new HttpExceptionFilter(ERROR_STATUS) },
        // rate limits first: a stranger guessing keys is limited before any key is checked
        { provide: APP_GUARD, useClass: AppThrottlerGuard },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        // a known caller's body in another type than JSON: 415 before the pipes read it
        { provide: APP_GUARD, useClass: JsonBodyGuard },
      ],
    };
  }
}
