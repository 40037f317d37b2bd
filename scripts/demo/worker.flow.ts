import { createHmac, randomUUID } from 'node:crypto';
import { DemoContext } from './context';
import type { DemoFlow } from './flows';
import { signPacket } from './phone';

export const workerFlow: DemoFlow = {
  name: 'worker',
  title:
    'Worker phone: enroll, register, sign offline, sync twice, verify the ledger, refresh the token',
  run: async (ctx: DemoContext) => {
    const site = await ctx.call('POST', '/api/v5/sites', {
      key: ctx.keys.admin,
      body: { name: 'Demo tower B', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    ctx.expect(site.status === 201, 'the site to be created');
    ctx.say(`create a site → ${site.status} siteId ${site.body.siteId}`);
    const worker = await ctx.call('POST', '/api/v5/workers', {
      key: ctx.keys.admin,
      body: { name: 'Sita Devi', phone: '+91 98100 00001', siteIds: [site.body.siteId] },
    });
    ctx.say(
      `create a worker → ${worker.status} workerId ${worker.body.workerId}, trust ${worker.body.trustScore}, a single-use enrollment code`,
    );
    const register = (code: string) =>
      ctx.call('POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: code,
          fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash: 'f00dfeedcafe0001' },
        },
      });
    const reg = await register(worker.body.enrollmentCode);
    ctx.expect(reg.status === 201, 'the phone to register');
    ctx.say(
      `phone registers with the code → ${reg.status} deviceId ${reg.body.deviceId}, a 32-byte secret and an offline token until ${reg.body.offlineTokenExpiresAt}`,
    );
    const again = await register(worker.body.enrollmentCode);
    ctx.say(`the same code again → ${again.status} ${again.body.code}`);
    const jwks = await ctx.call('GET', '/api/v5/.well-known/jwks.json');
    const keys = jwks.body.keys as { alg: string; kid: string }[];
    ctx.say(
      `JWKS → ${keys.length} key${keys.length === 1 ? '' : 's'} (${keys.map((k) => `${k.alg}, kid ${k.kid}`).join('; ')})`,
    );

    const secret = Buffer.from(reg.body.deviceSecret as string, 'base64');
    const packets = (['check_in', 'check_out'] as const).map((type, i) => {
      const payload = {
        packetId: randomUUID(),
        workerId: worker.body.workerId,
        siteId: site.body.siteId,
        deviceId: reg.body.deviceId,
        type,
        timestamp: new Date(Date.now() - (2 - i) * 1000).toISOString(),
        geo: { lat: 28.61392, lng: 77.20901, accuracyM: 9 },
      };
      return {
        payload,
        signature: signPacket(secret, payload),
      };
    });
    ctx.say('offline: the phone signs a check-in and a check-out (HMAC-SHA256 over JCS)');
    const sync = () =>
      ctx.call('POST', '/api/v5/sync', {
        headers: { authorization: `Bearer ${reg.body.offlineToken}` },
        body: { packets },
      });
    const first = await sync();
    ctx.expect(first.status === 200 && first.body.accepted === 2, 'both packets to be accepted');
    ctx.say(
      `sync → ${first.status} accepted ${first.body.accepted} at seq ${first.body.results.map((r: { seq: number }) => r.seq).join(', ')}`,
    );
    const second = await sync();
    ctx.say(
      `sync the same batch again (lost response) → accepted ${second.body.accepted}, duplicates ${second.body.duplicates}`,
    );
    const verify = await ctx.call('GET', `/api/v5/ledger/${site.body.siteId}/verify`, {
      key: ctx.keys.auditor,
    });
    ctx.expect(verify.body.ok === true, 'the ledger to verify');
    ctx.say(
      `verify the site ledger → ok ${verify.body.ok}, length ${verify.body.length}, head ${String(verify.body.headHash).slice(0, 16)}…`,
    );

    const timestamp = new Date().toISOString();
    const refreshSignature = createHmac('sha256', secret)
      .update(`mdai.token-refresh.${reg.body.deviceId}.${timestamp}`, 'utf8')
      .digest('hex');
    const refresh = () =>
      ctx.call('POST', '/api/v5/device/token', {
        body: { deviceId: reg.body.deviceId, timestamp, signature: refreshSignature },
      });
    const refreshed = await refresh();
    ctx.expect(refreshed.status === 200, 'the token to be refreshed');
    ctx.say(
      `before expiry the phone proves its secret (HMAC over deviceId and time) → ${refreshed.status} a new token until ${refreshed.body.offlineTokenExpiresAt}; packets of the old one sync until ${refreshed.body.syncGraceEndsAt}`,
    );
    const replayed = await refresh();
    ctx.say(`the same signed refresh again → ${replayed.status} ${replayed.body.code}`);
  },
};
