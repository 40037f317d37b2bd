/** Bench child: the real API (createApp, as main.ts) on a free port; prints `READY <port>`. */
import { createApp } from '@app/api/bootstrap';
import { answerMemoryRequests } from './child';

async function main(): Promise<void> {
  const { app } = await createApp(process.env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  answerMemoryRequests();
  process.stdout.write(`READY ${port}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
