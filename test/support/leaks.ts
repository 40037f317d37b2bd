/**
 * Finds a platform id in frame text the way an attacker would look for it, independently of the
 * server's own matcher: in any letter case, and inside any run of base64 / base64url characters
 * decoded at each of the four character offsets.
 */
export function holdsPlatformId(text: string, platformId: string): boolean {
  const needle = platformId.toLowerCase();
  const lower = text.toLowerCase();
  if (lower.includes(needle)) return true;
  // its hex (either case), and the id without its PLT_ prefix (which a fullwidth or URL-encoded
  // underscore, or a NUL or zero-width character in the prefix, leaves whole)
  if (lower.includes(Buffer.from(platformId).toString('hex'))) return true;
  if (/^plt_/.test(needle) && lower.includes(needle.slice(4))) return true;
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
    Buffer.from(platformId).toString('hex'),
    Buffer.from(platformId).toString('hex').toUpperCase(),
    platformId.slice(4),
    encodeURIComponent(platformId).replace('_', '%5F'),
    platformId.replace('_', '\uFF3F'),
    platformId.replace('_', '_\u0000'),
    `${platformId.slice(0, 1)}\u200b${platformId.slice(1)}`,
  ];
}
