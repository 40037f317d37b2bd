/**
 * A real API process for crash tests: boots the whole app exactly as main.ts does (from the
 * environment, DATA_DIR included) on a free port and prints `started` once its init is done and
 * `listening <port>` once ready.
 * CRASH_SERVER_HANG_ON_DESTROY=1: a step of the close (a module's `onModuleDestroy`) never ends.
 * CRASH_SERVER_HOLD_INIT_MS=<ms>: a step of the start-up (a module's `onModuleInit`, as a long
 * migration or legacy tagging) prints `init held` and takes that long.
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
  const holdInitMs = Number(process.env.CRASH_SERVER_HOLD_INIT_MS ?? 0);
  if (holdInitMs > 0) {
    const relay = app.get(RelayHub);
    const onModuleInit = relay.onModuleInit.bind(relay);
    const held = async (): Promise<void> => {
      process.stdout.write('init held\n');
      await new Promise((resolve) => setTimeout(resolve, holdInitMs));
      process.stdout.write('init released\n');
      onModuleInit();
    };
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by Nest
    relay.onModuleInit = held;
  }
  await app.listen(0, '127.0.0.1');
  process.stdout.write('started\n');
  // none when a signal during the start-up closed it as soon as it listened
  const address = app.getHttpServer().address() as { port: number } | null;
  if (address) process.stdout.write(`listening ${address.port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
