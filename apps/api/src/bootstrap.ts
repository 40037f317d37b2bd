import { INestApplication, Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { RelayWsAdapter } from '@app/relay';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import {
  bodyPipeline,
  correlationIdMiddleware,
  Env,
  httpMetricsMiddleware,
  MetricsRegistry,
} from '@app/common';
import { AppModule, AppModuleOptions } from './app.module';
import { AppConfig, loadConfig } from './config/app-config';
import { buildOpenApi } from './openapi';

export interface CreatedApp {
  app: INestApplication;
  config: AppConfig;
}

/**
 * Builds the whole application from an environment record. Used by main.ts, by the
 * end-to-end tests (real port, temp DATA_DIR) and by the OpenAPI script, so all three
 * run exactly the same wiring.
 */
export async function createApp(env: Env, options: AppModuleOptions = {}): Promise<CreatedApp> {
  const config = loadConfig(env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, options), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.use(correlationIdMiddleware);
  app.use(httpMetricsMiddleware(app.get(MetricsRegistry)));
  app.use(...bodyPipeline({ limitBytes: config.app.jsonBodyLimitBytes, ...config.app.jsonLimits }));
  app.disable('x-powered-by');
  app.set('trust proxy', config.app.trustProxy);
  app.useWebSocketAdapter(new RelayWsAdapter(app));
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), { jsonDocumentUrl: 'docs-json' });
  const bootLog = new NestLogger('Bootstrap');
  for (const notice of config.notices) bootLog.log(notice);
  bootLog.log(
    `store: ${config.database.driver}; relay bus: ${config.redis.url ? 'redis' : 'in-process'}`,
  );
  return { app, config };
}
