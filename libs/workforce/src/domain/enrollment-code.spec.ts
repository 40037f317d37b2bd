import { enrollmentCodeData, newEnrollmentCode } from './enrollment-code';

describe('enrollment codes', () => {
  it('should make distinct 16-character Crockford base32 codes in groups of four', () => {
    const codes = new Set(Array.from({ length: 200 }, () => newEnrollmentCode()));
    expect(codes.size).toBe(200);
    for (const code of codes)
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  });

  it('should key a code the same way whatever its case, spaces and dashes', () => {
    const code = newEnrollmentCode();
    const sut = enrollmentCodeData(code);
    expect(enrollmentCodeData(code.toLowerCase().replace(/-/g, ' '))).toBe(sut);
    expect(enrollmentCodeData(newEnrollmentCode())).not.toBe(sut);
  });
});
