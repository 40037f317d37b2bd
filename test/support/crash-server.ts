/**
 * A real API process for crash tests: boots the whole app exactly as main.ts does (from the
 * environment, DATA_DIR included) on a free port and prints `listening <port>` once ready.
 * CRASH_SERVER_HANG_ON_DESTROY=1: a step of the close (a module's `onModuleDestroy`) never ends.
 */
import 'reflect-metadata';
import { createApp } from '@app/api/bootstrap';
import { RelayHub } from '@app/relay';

async function main(): Promise<void> {
  const { app } = await createApp(process.env);
  // a close step that never ends (the relay's `onModuleDestroy`, after the drain's), holding the
  // event loop as a call on a stuck connection would: the exit timer must end the process
  if (process.env.CRASH_SERVER_HANG_ON_DESTROY === '1')
    app.get(RelayHub).onModuleDestroy = () =>
      new Promise<void>(() => setInterval(() => undefined, 1000)) as never;
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.stdout.write(`listening ${port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
