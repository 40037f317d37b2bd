/**
 * Run as a child process (`node -r @swc-node/register test/support/boot-probe.ts`) by
 * test/store-loading.e2e-spec.ts: boots the app from the environment, prints which of the
 * watched packages (or package index files) its module cache holds (`LOADED [...]`), then exits.
 */
import 'reflect-metadata';
import { createApp } from '@app/api/bootstrap';

const WATCHED =
  /node_modules\/(mongoose|@nestjs\/mongoose|mongodb|bson|ioredis|@nest-lab\/throttler-storage-redis|axios|@nestjs\/axios|@nestjs\/terminus|libphonenumber-js|class-validator\/cjs\/index\.js|validator\/index\.js|@nestjs\/swagger|lodash\/lodash\.js|@opentelemetry\/api|@nestjs\/jwt|jsonwebtoken|@nestjs\/config\/dist\/index\.js|lodash\/get\.js|class-transformer\/cjs\/index\.js|bindings(?=\/))/;

async function main(): Promise<void> {
  const { app } = await createApp(process.env);
  await app.init();
  const loaded = new Set(
    Object.keys(require.cache)
      .map((file) => WATCHED.exec(file)?.[1])
      .filter((name): name is string => name !== undefined),
  );
  process.stdout.write(`LOADED ${JSON.stringify([...loaded].sort())}\n`);
  await app.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
