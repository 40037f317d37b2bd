import type { CountryCode } from 'libphonenumber-js';

type PhoneLib = typeof import('libphonenumber-js/min');

let loaded: PhoneLib | undefined;

/**
 * libphonenumber-js with its small metadata (the lengths and prefixes of every region: enough
 * for "is this a possible number", not for "is it assigned"). Loaded at the first phone read,
 * never at boot (`test/store-loading.e2e-spec.ts`): ~70 modules the server needs only when a
 * person is created or changed, or old workers' phones are keyed.
 */
function phoneLib(): PhoneLib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('libphonenumber-js/min') as PhoneLib);
}

/** The region of a number written without a country code unless PHONE_DEFAULT_COUNTRY says. */
export const DEFAULT_PHONE_COUNTRY = 'IN';

/** Whether `region` is an ISO 3166-1 alpha-2 code (upper case) that libphonenumber-js knows. */
export function isPhoneRegion(region: string): boolean {
  return /^[A-Z]{2}$/.test(region) && phoneLib().isSupportedCountry(region);
}

/**
 * Phone numbers as the workforce stores and compares them: E.164 (`+919876543210`).
 * `+91 98765 43210`, `919876543210`, `09876543210`, `0091 98765 43210` and `9876543210` are
 * one number when the default region is IN: a number without a country code is read as one
 * of the default region (its trunk prefix `0` and the region's international prefix `00`
 * understood), and `+44…` is another country's.
 */
export class PhoneNumbers {
  constructor(readonly defaultRegion: string = DEFAULT_PHONE_COUNTRY) {}

  /**
   * `typed` in E.164, or undefined when it is not a possible number (too short or too long
   * for its region: the library's length rules, not a check that the number is assigned).
   */
  e164(typed: string): string | undefined {
    const parsed = phoneLib().parsePhoneNumberFromString(typed, this.defaultRegion as CountryCode);
    return parsed?.isPossible() ? parsed.number : undefined;
  }

  /**
   * What a stored phone is claimed under (`phoneClaims`): its E.164; a number that does not
   * parse (only an old worker's, stored before numbers were checked) as typed, without spaces
   * and dashes, as claims were keyed before.
   */
  claimKey(stored: string): string {
    return this.e164(stored) ?? stored.replace(/[ -]/g, '');
  }
}
