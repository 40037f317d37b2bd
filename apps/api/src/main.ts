// first: the modules below are evaluated with the boot's heap settings
import { bootHeapDone } from './boot-heap';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@app/common';
import { createApp } from './bootstrap';
import { ignoredSecretsWarning, singleInstanceWarning } from './config/single-instance';

async function main(): Promise<void> {
  const { app, config } = await createApp(process.env);
  const { port, host } = config.app;
  if (host === undefined) await app.listen(port);
  else await app.listen(port, host);
  bootHeapDone();
  const logger = new Logger('Bootstrap');
  logger.log(
    `MDAI API listening on ${host === undefined ? 'every interface' : host}, port ${port} (docs at /docs)`,
  );
  const single = singleInstanceWarning(config);
  if (single) logger.warn(single);
  const ignored = ignoredSecretsWarning(config);
  if (ignored) logger.warn(ignored);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`config error: ${error.message}\n`);
  } else {
    process.stderr.write(`boot failed: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
});
