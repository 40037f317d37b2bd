/**
 * Bench child: opens many idle sockets from a spec file and keeps them open (answering pings).
 * Spec: { sockets: [{ url, auth?: { sessionId, deviceId } }], privateKeyPem? }. Prints `READY <n>`.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { signKioskAuth } from '@app/kiosk-registry/domain/kiosk-auth';

interface Spec {
  sockets: Array<{ url: string; auth?: { sessionId: string; deviceId: string } }>;
  privateKeyPem?: string;
}

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Spec;
const key = spec.privateKeyPem ? createPrivateKey(spec.privateKeyPem) : undefined;
const open: WebSocket[] = [];

function connect(entry: Spec['sockets'][number]): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(entry.url);
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as {
        type: string;
        nonce?: string;
        code?: string;
      };
      if (frame.type === 'ping') ws.send('{"type":"pong"}');
      else if (frame.type === 'challenge' && entry.auth && key) {
        const signature = signKioskAuth(key, entry.auth.sessionId, frame.nonce!);
        ws.send(
          JSON.stringify({
            type: 'auth',
            session_id: entry.auth.sessionId,
            device_id: entry.auth.deviceId,
            signature,
          }),
        );
      } else if (frame.type === 'joined') done();
      else if (frame.type === 'error') done(new Error(frame.code));
    });
    ws.on('open', () => {
      open.push(ws);
      if (!entry.url.includes('/ws/')) done();
    });
    ws.on('error', (error) => done(error));
  });
}

async function main(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < spec.sockets.length) await connect(spec.sockets[next++]);
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  process.stdout.write(`READY ${open.length}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`idle-clients failed: ${(error as Error).message}\n`);
  process.exit(1);
});
