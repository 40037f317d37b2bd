import { redactString, redactValue } from './redact';

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

  it('should mask platform ids, JWTs, api keys and token query strings inside text', () => {
    const text = redactString(
      'user PLT_jjbmYWeq3o1W token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig key mdai_adm_abcdefghijkl /ws/app?token=abc.def',
    );
    expect(text).not.toMatch(/PLT_jj|eyJhbGci|mdai_adm_abc|abc\.def/);
  });
});
