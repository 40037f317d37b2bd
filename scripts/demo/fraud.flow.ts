import { randomUUID } from 'node:crypto';
import { DemoContext } from './context';
import type { DemoFlow } from './flows';
import { signPacket } from './phone';

export const fraudFlow: DemoFlow = {
  name: 'fraud',
  title: 'Fraud and trust: a teleporting packet is accepted but flagged, a blocked phone gets 403',
  run: async (ctx: DemoContext) => {
    const site = await ctx.call('POST', '/api/v5/sites', {
      key: ctx.keys.admin,
      body: { name: 'Demo fraud site', geo: { lat: 28.6139, lng: 77.209 }, radiusM: 150 },
    });
    ctx.expect(site.status === 201, 'the site to be created');
    const worker = await ctx.call('POST', '/api/v5/workers', {
      key: ctx.keys.admin,
      body: { name: 'Arjun', phone: '+91 98100 00077', siteIds: [site.body.siteId] },
    });
    const reg = await ctx.call('POST', '/api/v5/device/register', {
      body: {
        enrollmentCode: worker.body.enrollmentCode,
        fingerprint: {
          os: 'Android 14',
          model: 'Redmi Note 12',
          simHash: `demo-${randomUUID().slice(0, 12)}`,
        },
      },
    });
    ctx.expect(reg.status === 201, 'the phone to register');
    ctx.say(`a worker and a phone (deviceId ${reg.body.deviceId}, trust ${reg.body.trustScore})`);
    const secret = Buffer.from(reg.body.deviceSecret as string, 'base64');
    const sign = (type: string, at: number, geo: { lat: number; lng: number }) => {
      const payload = {
        packetId: randomUUID(),
        workerId: worker.body.workerId,
        siteId: site.body.siteId,
        deviceId: reg.body.deviceId,
        type,
        timestamp: new Date(at).toISOString(),
        geo: { ...geo, accuracyM: 10 },
      };
      return {
        payload,
        signature: signPacket(secret, payload),
      };
    };
    const sync = (packets: unknown[]) =>
      ctx.call('POST', '/api/v5/sync', {
        headers: {
          authorization: `Bearer ${reg.body.offlineToken}`,
          'user-agent': 'MDAI-Worker/1.4.0 (Android 14; Redmi Note 12)',
          'x-app-version': '1.4.0',
          'x-device-id': reg.body.deviceId,
        },
        body: { packets },
      });
    const now = Date.now();
    const checkIn = sign('check_in', now - 120_000, { lat: 28.6139, lng: 77.209 });
    // one minute later, 1,100 km away (Mumbai): 66,000 km/h
    const teleport = sign('check_out', now - 60_000, { lat: 19.076, lng: 72.8777 });
    const res = await sync([checkIn, teleport]);
    ctx.expect(res.status === 200 && res.body.accepted === 2, 'both packets to be accepted');
    ctx.say(
      `sync a check-in at the site and a check-out in Mumbai one minute later → ${res.status}, accepted ${res.body.accepted} (pattern anomalies are accepted and flagged)`,
    );
    const events = await ctx.call(
      'GET',
      `/api/v5/fraud/events?deviceId=${reg.body.deviceId}&limit=10`,
      { key: ctx.keys.admin },
    );
    for (const e of events.body as { type: string; detail: string }[]) {
      ctx.say(`fraud event ${e.type}: ${e.detail}`);
    }
    ctx.expect(
      (events.body as { type: string }[]).some((e) => e.type === 'impossible_travel'),
      'an impossible_travel event',
    );
    const trust = await ctx.call('GET', `/api/v5/devices/${reg.body.deviceId}/trust`, {
      key: ctx.keys.admin,
    });
    ctx.say(
      `device trust → ${trust.body.score}: ${(
        trust.body.factors as { name: string; effect: number }[]
      )
        .map((f) => `${f.name} ${f.effect >= 0 ? '+' : ''}${f.effect}`)
        .join(', ')}`,
    );
    const block = await ctx.call('POST', `/api/v5/devices/${reg.body.deviceId}/block`, {
      key: ctx.keys.admin,
      body: { reason: 'demo: teleporting phone under review' },
    });
    ctx.say(`admin blocks the phone → ${block.status}, isBlocked ${block.body.isBlocked}`);
    const refused = await sync([
      sign('check_in', Date.now() - 30_000, { lat: 28.6139, lng: 77.209 }),
    ]);
    ctx.expect(refused.status === 403, 'a blocked device to be refused');
    ctx.say(`the blocked phone syncs → ${refused.status} ${refused.body.code}`);
    const unblock = await ctx.call('POST', `/api/v5/devices/${reg.body.deviceId}/unblock`, {
      key: ctx.keys.admin,
      body: { reason: 'demo: explained by the worker' },
    });
    ctx.say(`admin unblocks it → ${unblock.status}, isBlocked ${unblock.body.isBlocked}`);
    const restored = await sync([
      sign('check_in', Date.now() - 10_000, { lat: 28.6139, lng: 77.209 }),
    ]);
    ctx.expect(restored.status === 200, 'the unblocked phone to sync again');
    ctx.say(`it syncs again → ${restored.status}, accepted ${restored.body.accepted}`);
  },
};
