import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@app/common';
import { createApp } from './bootstrap';
import { singleInstanceWarning } from './config/single-instance';

async function main(): Promise<void> {
  const { app, config } = await createApp(process.env);
  await app.listen(config.app.port);
  const logger = new Logger('Bootstrap');
  logger.log(`MDAI API listening on port ${config.app.port} (docs at /docs)`);
  const single = singleInstanceWarning(config);
  if (single) logger.warn(single);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`config error: ${error.message}\n`);
  } else {
    process.stderr.write(`boot failed: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
