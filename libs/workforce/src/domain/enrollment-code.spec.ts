import { enrollmentCodeHash, newEnrollmentCode } from './enrollment-code';

describe('enrollment codes', () => {
  it('should make distinct 16-character Crockford base32 codes in groups of four', () => {
    const codes = new Set(Array.from({ length: 200 }, () => newEnrollmentCode()));
    expect(codes.size).toBe(200);
    for (const code of codes)
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  });

  it('should hash a code the same way whatever its case and dashes', () => {
    const code = newEnrollmentCode();
    const sut = enrollmentCodeHash(code);
    expect(enrollmentCodeHash(code.toLowerCase().replace(/-/g, ''))).toBe(sut);
    expect(sut).toMatch(/^[0-9a-f]{64}$/);
    expect(enrollmentCodeHash(newEnrollmentCode())).not.toBe(sut);
  });
});
