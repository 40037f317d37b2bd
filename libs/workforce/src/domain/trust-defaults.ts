/**
 * Starting trust scores (0-100). The scoring engine (headers, device age, fraud history) is
 * issue 6; until then a device carries its person's score from registration.
 */
export const TRUST_DEFAULTS = {
  thekedar: 80,
  workerByAdmin: 50,
} as const;
