import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { DemoFlow } from './flows';

/** A kiosk gets its Wi-Fi credentials through the RSA challenge QR. */
export const provisioningFlow: DemoFlow = {
  name: 'provisioning',
  title: 'Wi-Fi provisioning by RSA challenge QR',
  run: async (ctx) => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const deviceId = `TEE-WIFI-${Date.now()}`;
    const reg = await ctx.call('POST', '/api/register-device', {
      key: ctx.keys.provisioner,
      body: {
        device_id: deviceId,
        public_key: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    });
    ctx.say(`kiosk ${deviceId} registers its TrustZone key → ${reg.status}`);
    const gen = await ctx.call('POST', '/api/generate-challenge', {
      key: ctx.keys.admin,
      body: { device_id: deviceId, wifi_ssid: 'Demo-Site', wifi_password: 'demo-wifi-pass' },
    });
    ctx.expect(
      gen.status === 200,
      `generate-challenge to succeed, got ${gen.status} ${gen.body.code}`,
    );
    // qr_url is absolute (PUBLIC_URL, or the Host this request used): followed as given
    const image = await fetch(gen.body.qr_url, { headers: { 'x-api-key': ctx.keys.admin } });
    ctx.expect(
      image.status === 200 && image.headers.get('content-type') === 'image/png',
      `the QR image at ${gen.body.qr_url}, got ${image.status}`,
    );
    ctx.say(
      `admin issues a challenge → QR {bson_id: ${gen.body.qr_payload.bson_id}, challenge: ${gen.body.qr_payload.challenge.length} base64 chars}, QR image at ${gen.body.qr_url} (${image.status} image/png)`,
    );
    const answer = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(gen.body.qr_payload.challenge, 'base64'),
    );
    ctx.say(
      `kiosk scans the QR and decrypts the challenge with its private key → ${answer.length} bytes`,
    );
    const wrong = await ctx.call('POST', '/api/validate-challenge', {
      body: {
        bson_id: gen.body.qr_payload.bson_id,
        challenge_response: Buffer.alloc(32).toString('base64'),
      },
    });
    ctx.say(`a wrong answer → ${wrong.status} ${wrong.body.code}: ${wrong.body.message}`);
    const ok = await ctx.call('POST', '/api/validate-challenge', {
      body: { bson_id: gen.body.qr_payload.bson_id, challenge_response: answer.toString('base64') },
    });
    ctx.say(
      `the right answer → ${ok.status}, Wi-Fi SSID "${ok.body.wifi_credentials?.ssid}" (password received, not printed)`,
    );
    const replay = await ctx.call('POST', '/api/validate-challenge', {
      body: { bson_id: gen.body.qr_payload.bson_id, challenge_response: answer.toString('base64') },
    });
    ctx.say(`the same answer again → ${replay.status} ${replay.body.code}`);
  },
};
