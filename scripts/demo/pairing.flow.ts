import { generateKeyPairSync } from 'node:crypto';
import { signKioskAuth } from '@app/kiosk-registry/domain/kiosk-auth';
import { DemoContext } from './context';
import { DemoFlow } from './flows';
import { DemoSocket } from './ws';

const PLATFORM_ID = 'PLT_demoUser0001';

function fakeJpegBase64(): string {
  const bytes = Buffer.alloc(4096, 0x42);
  bytes.set([0xff, 0xd8, 0xff], 0);
  return bytes.toString('base64');
}

async function registeredKiosk(ctx: DemoContext) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const deviceId = `TEE-PAIR-${Date.now()}`;
  await ctx.call('POST', '/api/register-device', {
    key: ctx.keys.provisioner,
    body: {
      device_id: deviceId,
      public_key: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
  });
  const signAuth = (sessionId: string, nonce: string) =>
    signKioskAuth(privateKey, sessionId, nonce);
  return { deviceId, signAuth };
}

/** Phone ↔ kiosk pairing through the relay, with the face submission to the upstream (stub). */
export const pairingFlow: DemoFlow = {
  name: 'pairing',
  title: 'Pairing a phone and a kiosk (new protocol)',
  run: async (ctx) => {
    const kiosk = await registeredKiosk(ctx);
    ctx.say(`kiosk ${kiosk.deviceId} is registered`);
    const opened = await ctx.call('POST', '/api/auth/mobile', {
      key: ctx.keys.mobile,
      body: { user_id: 'demo-user', platform_id: PLATFORM_ID },
    });
    ctx.expect(opened.status === 201, `a session, got ${opened.status} ${opened.body.code}`);
    ctx.say(
      `phone opens session ${opened.body.session_id}; its QR points the kiosk at ${opened.body.qr_payload.ws_device_url}`,
    );
    const mobile = await DemoSocket.open(`${ctx.wsBase}/ws/mobile?token=${opened.body.token}`);
    ctx.say(`phone socket → ${JSON.stringify(await mobile.next('joined'))}`);
    // the kiosk follows the QR verbatim: ws_device_url is right behind a proxy too (PUBLIC_URL)
    const device = await DemoSocket.open(
      `${opened.body.qr_payload.ws_device_url}?token=${opened.body.qr_payload.token}`,
    );
    const challenge = await device.next('challenge');
    ctx.say(`kiosk socket ← challenge; it signs mdai-auth|session|nonce with its key (RSA-PSS)`);
    device.send({
      type: 'auth',
      session_id: opened.body.session_id,
      device_id: kiosk.deviceId,
      signature: kiosk.signAuth(opened.body.session_id, challenge.nonce),
    });
    ctx.say(`kiosk → ${JSON.stringify(await device.next('joined'))}`);
    ctx.say(`phone ← ${JSON.stringify(await mobile.next('status'))}`);
    mobile.send({
      type: 'to_device',
      data: {
        instruction: 'look at the camera',
        platform_id: PLATFORM_ID,
        note: `user ${PLATFORM_ID}`,
      },
    });
    ctx.say(
      `phone sends to_device with its platform id inside; the kiosk gets ${JSON.stringify(await device.next('from_mobile'))}`,
    );
    device.send({ type: 'submit_result', image: fakeJpegBase64(), passes: 5 });
    ctx.say(
      'kiosk submits the face image (stored encrypted, then sent upstream with the platform id the server kept)',
    );
    const result = await mobile.next('result');
    ctx.say(
      `phone ← result ${result.status} (status_code ${result.status_code}, ${result.latency_ms} ms, platform_id ${result.platform_id})`,
    );
    const deviceResult = await device.next('result');
    ctx.say(
      `kiosk ← result ${deviceResult.status}, platform_id ${'platform_id' in deviceResult ? 'PRESENT (bug!)' : 'absent'}`,
    );
    ctx.say(`both ← ${JSON.stringify(await mobile.next('session_closed'))}`);
    mobile.close();
    device.close();
  },
};

/** The fielded kiosk's old protocol, still working, with the platform id replaced by an alias. */
export const legacyFlow: DemoFlow = {
  name: 'legacy',
  title: 'Legacy kiosk protocol (fielded hardware)',
  run: async (ctx) => {
    const auth = await ctx.call('POST', '/auth', { body: { api_key: ctx.keys.hardware } });
    ctx.expect(auth.status === 200, `a legacy token, got ${auth.status}`);
    ctx.say(
      `hardware POST /auth → token (expires_in ${auth.body.expires_in}); it shows the token as a QR`,
    );
    const hardware = await DemoSocket.open(`${ctx.wsBase}/ws/hardware?token=${auth.body.token}`);
    ctx.say(`hardware socket → ${JSON.stringify(await hardware.next('joined'))}`);
    const app = await DemoSocket.open(`${ctx.wsBase}/ws/app?token=${auth.body.token}`);
    ctx.say(`app socket → ${JSON.stringify(await app.next('joined'))}`);
    app.send({ type: 'to_hardware', data: { message: 'hello' } });
    ctx.say(`hardware ← ${JSON.stringify(await hardware.next('from_app'))}`);
    hardware.send({ type: 'to_app', data: { message: 'hello' } });
    ctx.say(`app ← ${JSON.stringify(await app.next('from_hardware'))}`);
    app.send({ type: 'to_hardware', data: { platform_id: PLATFORM_ID } });
    const fromApp = await hardware.next('from_app');
    ctx.say(`app sends its platform id; hardware ← ${JSON.stringify(fromApp)} (an alias)`);
    hardware.send({
      type: 'to_backend',
      data: { platform_id: fromApp.data.platform_id, image_base64: fakeJpegBase64() },
    });
    const response = await hardware.next('backend_response');
    ctx.say(
      `hardware uploads with the alias; ← backend_response ${response.status_code} in ${response.latency_ms} ms`,
    );
    ctx.say(`app ← backend_response ${(await app.next('backend_response')).status_code}`);
    hardware.close();
    app.close();
  },
};
