import { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Clock, ClockModule, Env } from '@app/common';
import { PersistenceModule } from '@app/persistence';
import { configModule, loadConfig } from '../config/app-config';

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * For a service spec: the real modules in `imports` (after the app's config, the clock and
 * the store) on the store the config names in `dataDir` (SQLite there unless `env` says
 * otherwise), compiled, logging off and initialised. The caller closes it and removes
 * `dataDir`. `env` adds to (or overrides) NODE_ENV=test and DATA_DIR.
 */
export async function compileServiceModule(options: {
  dataDir: string;
  env?: Env;
  clock?: Clock;
  imports: ModuleImport[];
}): Promise<TestingModule> {
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: options.dataDir, ...options.env });
  const moduleRef = await Test.createTestingModule({
    imports: [
      configModule(config),
      ClockModule.forRoot(options.clock),
      PersistenceModule.forRoot(config.database),
      ...options.imports,
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}
