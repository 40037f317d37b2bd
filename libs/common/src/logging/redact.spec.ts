import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { redactLogObject, redactString, redactValue } from './redact';

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
