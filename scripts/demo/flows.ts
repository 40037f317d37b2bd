import { generateKeyPairSync } from 'node:crypto';
import { DemoContext } from './context';
import { fraudFlow } from './fraud.flow';
import { legacyFlow, pairingFlow } from './pairing.flow';
import { provisioningFlow } from './provisioning.flow';
import { paydayFlow } from './payday.flow';
import { vaultFlow } from './vault.flow';
import { workerFlow } from './worker.flow';

export interface DemoFlow {
  name: string;
  title: string;
  run: (ctx: DemoContext) => Promise<void>;
}

const health: DemoFlow = {
  name: 'health',
  title: 'Health and auth',
  run: async (ctx) => {
    const health = await ctx.call('GET', '/health');
    ctx.say(`GET /health → ${health.status} ${JSON.stringify(health.body)} (what anyone sees)`);
    ctx.expect(health.status === 200, 'a healthy server');
    const detailed = await ctx.call('GET', '/health', { key: ctx.keys.admin });
    ctx.say(
      `GET /health with the admin key → ${detailed.status} (store ${detailed.body?.info?.store?.driver} ${detailed.body?.info?.store?.status})`,
    );
    const anonymous = await ctx.call('GET', '/api/kiosks');
    ctx.say(`GET /api/kiosks without a key → ${anonymous.status} ${anonymous.body.code}`);
    const mobile = await ctx.call('GET', '/api/kiosks', { key: ctx.keys.mobile });
    ctx.say(`GET /api/kiosks with a mobile key → ${mobile.status} ${mobile.body.code}`);
    const admin = await ctx.call('GET', '/api/kiosks', { key: ctx.keys.admin });
    ctx.say(`GET /api/kiosks with the admin key → ${admin.status}, ${admin.body.length} kiosks`);
    ctx.expect(admin.status === 200, 'the admin key to work (set ADMIN_API_KEYS or DATA_DIR)');
  },
};

const kiosk: DemoFlow = {
  name: 'kiosk',
  title: 'Kiosk registration (TrustZone key)',
  run: async (ctx) => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const deviceId = `TEE-DEMO-${Date.now()}`;
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const reg = await ctx.call('POST', '/api/register-device', {
      key: ctx.keys.provisioner,
      body: { device_id: deviceId, public_key: pem },
    });
    ctx.say(
      `register ${deviceId} with a fresh RSA-2048 key → ${reg.status} ${JSON.stringify(reg.body)}`,
    );
    const again = await ctx.call('POST', '/api/register-device', {
      key: ctx.keys.provisioner,
      body: { device_id: deviceId, public_key: pem },
    });
    ctx.say(`register again with the same key → ${again.status} (idempotent)`);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const conflict = await ctx.call('POST', '/api/register-device', {
      key: ctx.keys.provisioner,
      body: { device_id: deviceId, public_key: other.toString() },
    });
    ctx.say(`register with another key → ${conflict.status} ${conflict.body.code}`);
  },
};

export const flows: DemoFlow[] = [
  health,
  kiosk,
  provisioningFlow,
  pairingFlow,
  legacyFlow,
  vaultFlow,
  workerFlow,
  fraudFlow,
  paydayFlow,
];
