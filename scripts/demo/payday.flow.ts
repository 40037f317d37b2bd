import { createHmac, randomUUID } from 'node:crypto';
import { DemoContext } from './context';
import type { DemoFlow } from './flows';
import { canonical, signPacket } from './phone';

interface Device {
  deviceId: string;
  secret: Buffer;
  token: string;
}

const GEO = { lat: 28.5355, lng: 77.391 };

/** What the thekedar's phone does: hex HMAC-SHA256 over `<timestamp>.<JCS(signed value)>`. */
function thekedarHeaders(
  thekedarId: string,
  device: Device,
  signed: unknown,
): Record<string, string> {
  const timestamp = new Date().toISOString();
  return {
    'x-thekedar-id': thekedarId,
    'x-device-id': device.deviceId,
    'x-request-timestamp': timestamp,
    'x-signature': createHmac('sha256', device.secret)
      .update(`${timestamp}.${canonical(signed)}`)
      .digest('hex'),
  };
}

/**
 * Payday: a thekedar onboards a crew with signed requests; the crew's phones sync their
 * punches; one forgot to check out and the thekedar adds it (a new ledger entry, signed, with
 * a reason); the office downloads the CSV and the payroll summary. A phone cannot hold punches
 * from before it was registered (its offline token starts then), so on a fresh server the
 * "week" is today's shift; test/timesheets.e2e-spec.ts replays whole weeks with a controllable
 * clock.
 */
export const paydayFlow: DemoFlow = {
  name: 'payday',
  title: 'Payday: a crew syncs its shift, the thekedar fixes a missed check-out, the CSV',
  run: async (ctx: DemoContext) => {
    const site = await ctx.call('POST', '/api/v5/sites', {
      key: ctx.keys.admin,
      body: { name: 'Demo sector 62', geo: GEO, radiusM: 300, timeZone: 'Asia/Kolkata' },
    });
    ctx.expect(site.status === 201, 'the site to be created');
    const siteId = site.body.siteId as string;
    ctx.say(`create a site in ${site.body.timeZone} → ${site.status} siteId ${siteId}`);
    const register = async (code: string, simHash: string): Promise<Device> => {
      const reg = await ctx.call('POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: code,
          fingerprint: { os: 'Android 14', model: 'Redmi Note 12', simHash },
        },
      });
      ctx.expect(reg.status === 201, 'a phone to register');
      return {
        deviceId: reg.body.deviceId,
        secret: Buffer.from(reg.body.deviceSecret as string, 'base64'),
        token: reg.body.offlineToken,
      };
    };
    const thekedar = await ctx.call('POST', '/api/v5/thekedars', {
      key: ctx.keys.admin,
      body: { name: 'Ramesh Kumar', phone: '+91 98100 00100', siteIds: [siteId] },
    });
    const thekedarId = thekedar.body.thekedarId as string;
    const thekedarPhone = await register(thekedar.body.enrollmentCode, `payday-k-${Date.now()}`);
    ctx.say(`thekedar ${thekedarId} registers a phone (its secret signs his requests)`);

    const started = Date.now();
    const crew: { name: string; workerId: string; phone: Device }[] = [];
    for (const [i, name] of ['Sita', 'Arjun', 'Meena'].entries()) {
      // each their own phone: a thekedar onboards a phone once (409 worker_exists)
      const body = { name, phone: `+91 98100 0010${i + 1}`, siteIds: [siteId] };
      const worker = await ctx.call('POST', '/api/v5/workers', {
        body,
        headers: thekedarHeaders(thekedarId, thekedarPhone, body),
      });
      ctx.expect(worker.status === 201, 'a thekedar-signed worker creation');
      const phone = await register(worker.body.enrollmentCode, `payday-${name}-${started}`);
      crew.push({ name, workerId: worker.body.workerId, phone });
    }
    ctx.say(
      `the thekedar onboards ${crew.map((c) => c.name).join(', ')} (signed), each registers a phone`,
    );

    // check-ins just before the phones' tokens began (within the allowed clock skew)
    const checkIn = new Date(started - 240_000).toISOString();
    const checkOut = new Date().toISOString();
    for (const [i, member] of crew.entries()) {
      const types = i === 2 ? (['check_in'] as const) : (['check_in', 'check_out'] as const);
      const packets = types.map((type) => {
        const payload = {
          packetId: randomUUID(),
          workerId: member.workerId,
          siteId,
          deviceId: member.phone.deviceId,
          type,
          timestamp: type === 'check_in' ? checkIn : checkOut,
          geo: { ...GEO, accuracyM: 7 },
        };
        return { payload, signature: signPacket(member.phone.secret, payload) };
      });
      const sync = await ctx.call('POST', '/api/v5/sync', {
        headers: {
          authorization: `Bearer ${member.phone.token}`,
          'user-agent': 'MDAI-Worker/1.4.0 (Android 14; Redmi Note 12)',
          'x-app-version': '1.4.0',
          'x-device-id': member.phone.deviceId,
        },
        body: { packets },
      });
      ctx.expect(sync.status === 200 && sync.body.accepted === types.length, 'the punches to sync');
      ctx.say(`${member.name}'s phone syncs ${types.join(' + ')} → accepted ${sync.body.accepted}`);
    }

    const day = (offset: number) =>
      new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const period = `from=${day(-1)}&to=${day(1)}`;
    const meena = crew[2];
    const sheet = await ctx.call(
      'GET',
      `/api/v5/sites/${siteId}/timesheets?${period}&workerId=${meena.workerId}`,
      {
        key: ctx.keys.auditor,
      },
    );
    ctx.expect(sheet.status === 200, `Meena's timesheet (got ${sheet.status} ${sheet.body?.code})`);
    const open = sheet.body.days[0];
    ctx.expect(
      open?.flags?.some((f: { type: string }) => f.type === 'open_shift'),
      'an open shift',
    );
    ctx.say(
      `Meena's timesheet: ${open.date}, first in ${open.firstIn}, flags ${JSON.stringify(open.flags)}`,
    );

    const body = {
      action: 'add_check_out',
      target: { siteId, seq: open.shifts[0].in.seq },
      at: new Date().toISOString(),
      reason: 'Phone battery died; left with the crew (site register)',
    };
    const correction = await ctx.call('POST', `/api/v5/sites/${siteId}/corrections`, {
      body,
      headers: thekedarHeaders(thekedarId, thekedarPhone, body),
    });
    ctx.expect(correction.status === 201, 'the thekedar correction to be appended');
    ctx.say(
      `the thekedar adds her missed check-out (signed, with a reason) → ${correction.status}, ledger seq ${correction.body.seq}`,
    );
    const stranger = await ctx.call('POST', `/api/v5/sites/${siteId}/corrections`, {
      body: { ...body, target: { siteId, seq: 1 } },
      key: ctx.keys.auditor,
    });
    ctx.say(`an auditor key may read but not correct → ${stranger.status} ${stranger.body.code}`);

    const csv = await ctx.call('GET', `/api/v5/sites/${siteId}/timesheets.csv?${period}`, {
      key: ctx.keys.admin,
    });
    ctx.expect(csv.status === 200 && typeof csv.body === 'string', 'the CSV');
    const lines = (csv.body as string).trim().split('\r\n');
    ctx.expect(lines.length === 4, 'one CSV row per worker-day (3) and a header');
    ctx.say(`the office downloads the CSV (RFC 4180, ${lines.length - 1} worker-days):`);
    for (const line of lines) process.stdout.write(`      ${line}\n`);
    const payroll = await ctx.call('GET', `/api/v5/sites/${siteId}/payroll?${period}`, {
      key: ctx.keys.admin,
    });
    type PayrollRow = { name?: string; daysPresent: number; hours: number; correctedDays: number };
    const rows = payroll.body.workers as PayrollRow[];
    ctx.expect(
      payroll.status === 200 &&
        rows.length > 0 &&
        rows.every((w) => crew.some((c) => c.name === w.name)),
      "the payroll to name each crew member (the worker's record, as the CSV's worker_name)",
    );
    ctx.say('payroll summary (who to pay, days present, hours):');
    for (const w of rows) {
      const corrected = w.correctedDays ? ' (corrected)' : '';
      process.stdout.write(`      ${w.name}: ${w.daysPresent} day(s), ${w.hours} h${corrected}\n`);
    }
    const verify = await ctx.call('GET', `/api/v5/ledger/${siteId}/verify`, {
      key: ctx.keys.auditor,
    });
    ctx.expect(verify.body.ok === true, 'the ledger, correction included, to verify');
    ctx.say(
      `the site ledger, correction included, verifies → ok ${verify.body.ok}, length ${verify.body.length}`,
    );
  },
};
