import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { DestinationStream } from 'pino';
import {
  ApiKeyGuard,
  AppConfig,
  AuthModule,
  Clock,
  ClockModule,
  createValidationPipe,
  HttpExceptionFilter,
  HttpMetricsInterceptor,
  LoggingModule,
  MetricsModule,
  RedisModule,
} from '@app/common';
import { PersistenceModule } from '@app/persistence';
import { DeviceTrustModule } from '@app/device-trust';
import { FraudModule } from '@app/fraud';
import { OfflineSyncModule } from '@app/offline-sync';
import { ProvisioningModule } from '@app/provisioning';
import { RelayModule } from '@app/relay';
import { SessionModule } from '@app/session';
import { VaultModule } from '@app/vault';
import { ConsoleController } from './console/console.controller';
import { HealthController } from './health/health.controller';
import { WhoAmIController } from './whoami/whoami.controller';

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
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ ...config })],
        }),
        ClockModule.forRoot(options.clock),
        LoggingModule.forRoot({ level: config.app.logLevel, stream: options.logStream }),
        PersistenceModule.forRoot(config.database),
        RedisModule,
        AuthModule,
        MetricsModule,
        TerminusModule.forRoot({ logger: false }),
        VaultModule,
        FraudModule,
        DeviceTrustModule,
        ProvisioningModule,
        SessionModule,
        RelayModule,
        OfflineSyncModule,
      ],
      controllers: [HealthController, WhoAmIController, ConsoleController],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_INTERCEPTOR, useExisting: HttpMetricsInterceptor },
      ],
    };
  }
}
