import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestKiosk } from '../support/kiosk';
import { openSession } from '../support/pairing';
import { pollUntil, TestApp } from '../support/test-app';
import { TestSocket } from '../support/ws-client';
import { dockerfileCommand, ROOT } from './support/compose';
import { RunningNginx, startNginx } from './support/nginx';
import { freePort, Service, waitForHttp } from './support/processes';

/**
 * Issue 11 item 2 as it was found: without PUBLIC_URL the API builds the QR's ws_device_url
 * from the Host it receives, and nginx with `Host $host` dropped the port it listens on
 * (`ws://127.0.0.1/ws/device` for a proxy on :8090). A development API (no PUBLIC_URL) behind
 * the shipped deploy/nginx.conf must hand out URLs a kiosk can follow verbatim.
 */
describe('the shipped nginx config in front of an API without PUBLIC_URL', () => {
  let dir: string;
  let api: Service;
  let nginx: RunningNginx;
  let proxy: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-proxy-host-'));
    const [apiPort, proxyPort] = [await freePort(), await freePort()];
    const [command, ...args] = dockerfileCommand();
    api = Service.start('api (development)', command, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        PORT: String(apiPort),
        DATA_DIR: join(dir, 'data'),
      },
    });
    await waitForHttp(api, `http://127.0.0.1:${apiPort}/health`);
    nginx = await startNginx(join(dir, 'nginx'), [`127.0.0.1:${apiPort}`], proxyPort);
    const secrets = JSON.parse(readFileSync(join(dir, 'data', 'secrets.json'), 'utf8')) as Record<
      string,
      string
    >;
    const baseUrl = `http://127.0.0.1:${proxyPort}`;
    proxy = {
      baseUrl,
      wsUrl: `ws://127.0.0.1:${proxyPort}`,
      keys: { mobile: secrets.MOBILE_API_KEYS, provisioner: secrets.PROVISIONER_API_KEYS },
    } as TestApp;
  }, 180_000);

  afterAll(async () => {
    await nginx?.service.stop();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep the proxy port in ws_device_url, and the kiosk should connect with it verbatim', async () => {
    const session = await openSession(proxy, 'PLT_proxyHost0001');
    expect(session.body.qr_payload.ws_device_url).toBe(`${proxy.wsUrl}/ws/device`);
    const kiosk = await TestKiosk.registered(proxy, `TEE-HOST-${Date.now()}`);
    const mobile = await TestSocket.open(`${proxy.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    const device = await TestSocket.open(
      `${session.body.qr_payload.ws_device_url}?token=${session.deviceToken}`,
    );
    const { nonce } = await device.next('challenge');
    device.send({
      type: 'auth',
      session_id: session.sessionId,
      device_id: kiosk.deviceId,
      signature: kiosk.signAuth(session.sessionId, nonce),
    });
    await device.next('joined');
    expect((await mobile.next('status')).state).toBe('connected');
    mobile.close();
    device.close();
  });

  it('should keep session tokens out of the access log: paths without their query string', async () => {
    const session = await openSession(proxy, 'PLT_proxyHost0002');
    const mobile = await TestSocket.open(`${proxy.wsUrl}/ws/mobile?token=${session.mobileToken}`);
    await mobile.next('joined');
    mobile.close();
    await fetch(`${proxy.baseUrl}/health?probe=query-${session.sessionId}`);
    // nginx writes a line when the request is over: for the socket, once it is closed
    const log = await pollUntil(
      async () => nginx.accessLog(),
      (text) => /"GET \/ws\/mobile HTTP\/1\.1" 101 /.test(text) && /"GET \/health /.test(text),
    );
    expect(log).toMatch(/"GET \/ws\/mobile HTTP\/1\.1" 101 /);
    expect(log).toMatch(/"GET \/health HTTP\/1\.1" 200 /);
    expect(log).not.toContain(session.mobileToken);
    expect(log).not.toContain(session.deviceToken);
    expect(log).not.toContain('token=');
    expect(log).not.toContain(`query-${session.sessionId}`);
  });

  it('should pass only WebSocket upgrades on: a request asking for h2c is answered as plain HTTP', async () => {
    // curl --http2 on plain HTTP sends these; the API's WebSocket server takes any request with
    // an Upgrade header and answers 404 for a path that is not a socket
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${proxy.baseUrl}/health`, {
        headers: { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': '' },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toHaveProperty('status');
  });
});
