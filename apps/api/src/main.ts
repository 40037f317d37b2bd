import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@app/common';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  const { app, config } = await createApp(process.env);
  await app.listen(config.app.port);
  new Logger('Bootstrap').log(`MDAI API listening on port ${config.app.port} (docs at /docs)`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`config error: ${error.message}\n`);
  } else {
    process.stderr.write(`boot failed: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
