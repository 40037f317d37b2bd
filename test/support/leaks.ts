/**
 * Finds a platform id in frame text the way an attacker would look for it, independently of the
 * server's own matcher: in any letter case, and inside any run of base64 / base64url characters
 * decoded at each of the four character offsets.
 */
export function holdsPlatformId(text: string, platformId: string): boolean {
  const needle = platformId.toLowerCase();
  if (text.toLowerCase().includes(needle)) return true;
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
    for (let offset = 0; offset < 4; offset++) {
      const part = run.slice(offset);
      const usable = part.slice(0, part.length - (part.length % 4));
      const standard = usable.replace(/-/g, '+').replace(/_/g, '/');
      if (Buffer.from(standard, 'base64').toString('latin1').toLowerCase().includes(needle))
        return true;
    }
  }
  return false;
}

/** The forms a modified client or an upstream might use to smuggle the id. */
export function disguises(platformId: string): string[] {
  return [
    platformId,
    platformId.toUpperCase(),
    platformId.toLowerCase(),
    Buffer.from(platformId).toString('base64'),
    Buffer.from(platformId).toString('base64url'),
    Buffer.from(`x${platformId}`).toString('base64'),
    Buffer.from(`xy${platformId}`).toString('base64'),
    Buffer.from(platformId.toUpperCase()).toString('base64'),
  ];
}
