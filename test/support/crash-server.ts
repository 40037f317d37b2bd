/**
 * A real API process for crash tests: boots the whole app exactly as main.ts does (from the
 * environment, DATA_DIR included) on a free port and prints `listening <port>` once ready.
 */
import 'reflect-metadata';
import { createApp } from '@app/api/bootstrap';

async function main(): Promise<void> {
  const { app } = await createApp(process.env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.stdout.write(`listening ${port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
