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
  // underscore, or a NUL or zero-width character in the prefix, leaves whole). A suffix of
  // digits only is the id only after an underscore, plain, percent-encoded or fullwidth (the
  // forms those disguises leave): as a bare number it is any number a frame may carry (a
  // timestamp), which the relay passes on (docs/architecture.md, the differs list)
  if (lower.includes(Buffer.from(platformId).toString('hex'))) return true;
  if (/^plt_/.test(needle)) {
    const suffix = needle.slice(4);
    const forms = /[a-z]/.test(suffix) ? [suffix] : ['_', '%5f', '\uff3f'].map((u) => u + suffix);
    if (forms.some((form) => lower.includes(form))) return true;
  }
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
    for (let offset = 0; offset < 4; offset++) {
      // the run whole: its last quantum too, unpadded (`=` ends the run), as Node decodes it
      const standard = run.slice(offset).replace(/-/g, '+').replace(/_/g, '/');
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
    // without its prefix: a suffix of digits only keeps its underscore (bare, it is a number)
    /^PLT_\d+$/i.test(platformId) ? platformId.slice(3) : platformId.slice(4),
    encodeURIComponent(platformId).replace('_', '%5F'),
    platformId.replace('_', '\uFF3F'),
    platformId.replace('_', '_\u0000'),
    `${platformId.slice(0, 1)}\u200b${platformId.slice(1)}`,
  ];
}
