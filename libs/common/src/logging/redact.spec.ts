import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { AUTH_SECRETS } from '../auth/auth.config';
import { randomBytes } from 'node:crypto';
import {
  REDACTED,
  redactLogObject,
  redactString,
  redactValue,
  registerKeySecrets,
  registerSecrets,
} from './redact';

describe('redact', () => {
  it('should hide sensitive fields at any depth', () => {
    const out = redactValue({
      headers: { 'x-api-key': 'mdai_adm_secretsecret', authorization: 'Bearer x' },
      body: {
        wifi_password: 'hunter22',
        nested: [{ platform_id: 'PLT_abc', image_base64: 'AAAA' }],
      },
      ok: 'visible',
    });
    const text = JSON.stringify(out);
    for (const secret of ['mdai_adm_secretsecret', 'Bearer x', 'hunter22', 'PLT_abc', 'AAAA']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('visible');
  });

  it('should keep the message and stack of an error from another realm (a native addon under jest)', () => {
    const foreign = runInNewContext('new TypeError("store gone for PLT_abc123")') as Error;
    expect(foreign instanceof Error).toBe(false);
    const sut = redactValue(foreign) as { type: string; message: string; stack: string };
    expect(sut).toMatchObject({ type: 'TypeError', message: 'store gone for PLT_[redacted]' });
    expect(sut.stack).toContain('TypeError');
  });

  it('should mask platform ids, JWTs, api keys and token query strings inside text', () => {
    const text = redactString(
      'user PLT_jjbmYWeq3o1W token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig key mdai_adm_abcdefghijkl /ws/app?token=abc.def',
    );
    expect(text).not.toMatch(/PLT_jj|eyJhbGci|mdai_adm_abc|abc\.def/);
  });

  it('should leave metric names, which have the shape of a key, as they are', () => {
    for (const name of [
      'mdai_fraud_events_unstored_total',
      'mdai_fraud_events_tampered_total',
      'mdai_relay_connections',
      'mdai_tlog_unauthenticated_logs',
      'mdai_worker_devices_legacy_tagging_refused',
      'mdai_http_request_duration_seconds_count',
      'mdai_sqlite_wal_frames_peak',
    ]) {
      const line = `over the budget: counted (${name}), not stored; ${name}{type="x"} 3`;
      expect(redactString(line)).toBe(line);
    }
  });

  it("should mask the server's configured secrets exactly, a key chosen by hand too, and leave unconfigured metric names", () => {
    const handMade = 'mdai_live_backoffice_key_2026_q4';
    const other = 'kiosk.site12+secret(key)2024';
    // not configured yet: of a metric name's shape, left as it is
    expect(redactString(`key ${handMade}`)).toBe(`key ${handMade}`);
    registerSecrets([handMade, other], '[api key redacted]');
    for (const text of [`key ${handMade} refused`, `/api/kiosks/${handMade}x`, `"${other}"`]) {
      const out = redactString(text);
      expect(out).not.toContain(handMade);
      expect(out).not.toContain(other);
      expect(out).toContain('[api key redacted]');
    }
    expect(redactValue({ note: `key=${handMade}` })).toEqual({ note: 'key=[api key redacted]' });
    const metric = 'counted (mdai_fraud_events_unstored_total)';
    expect(redactString(metric)).toBe(metric);
  });

  it('should mask a binary key registered in each text form a line could show, and its text as configured', () => {
    // bytes whose base64 holds + and /, so that base64 and base64url differ
    const key = Buffer.concat([Buffer.from([0xfb, 0xff, 0xbf]), randomBytes(29)]);
    const forms = [
      key.toString('base64'),
      key.toString('base64').replace(/=+$/, ''),
      key.toString('base64url'),
      key.toString('hex'),
    ];
    const written = 'written-as-configured-0123456789';
    for (const form of [...forms, written]) expect(redactString(`k ${form}`)).toBe(`k ${form}`);
    registerKeySecrets([key], REDACTED, [`${written}=`]);
    for (const form of [...forms, written]) {
      const out = redactString(`key ${form} in a line`);
      expect(out).not.toContain(form);
      expect(out).toContain(REDACTED);
    }
  });

  it("should still mask every key of the server's shape, those close to a metric name too", () => {
    const keys = [
      // what a local install generates, for each role
      ...Object.entries(AUTH_SECRETS)
        .filter(([name]) => name.endsWith('_API_KEYS'))
        .map(([, generate]) => generate()),
      // a role prefix and a lower-case, snake_case rest: a key all the same
      'mdai_adm_secretsecret',
      'mdai_mob_abc_def_ghi',
      'mdai_hw_aaaaaaaa',
      'mdai_prv_events_unstored_total',
      // another word: a key by an upper-case letter, a `-`, a long run without `_`, or a rest
      // that is not snake_case
      'mdai_shared_bbbbbbbbbbbbbbbbbbbbbbbb',
      'mdai_fraud_events_Unstored_total',
      'mdai_fraud_events-unstored_total',
      'mdai_ops_0123456789abcdef0123456789abcdef',
      'mdai_fraud_events__total',
      'mdai_fraud_events_total_',
    ];
    for (const key of keys) {
      const text = redactString(`key ${key} refused; /ws/app?x=${key}`);
      expect({ key, text }).toEqual({ key, text: expect.not.stringContaining(key) as string });
      expect(text).toContain('[api key redacted]');
    }
  });

  it('should redact every field of a log object except the raw req/res its serializers reduce', () => {
    const req = new IncomingMessage(new Socket());
    req.headers = { 'x-api-key': 'mdai_adm_secretsecret' };
    const res = new ServerResponse(req);
    const out = redactLogObject({
      req,
      res,
      response: res,
      token: 'tok-secret',
      detail: { device_secret: 'abc', note: 'PLT_abcdef' },
      responseTime: 3,
    });
    expect(out.req).toBe(req);
    expect(out.res).toBe(res);
    expect(out.response).not.toBe(res);
    const text = JSON.stringify({ ...out, req: undefined, res: undefined });
    for (const secret of ['mdai_adm_secretsecret', 'tok-secret', '"abc"', 'PLT_abcdef'])
      expect(text).not.toContain(secret);
    expect(out.responseTime).toBe(3);
  });

  it('should not pass a plain object under req or res through unredacted', () => {
    const out = redactLogObject({ req: { headers: { authorization: 'Bearer x' } }, res: 'PLT_zz' });
    expect(JSON.stringify(out)).not.toMatch(/Bearer x|PLT_zz/);
  });
});
