import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLOSE_CODES, CLOSE_FOR, OTHER_CLOSES } from './codes';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('relay close codes (docs/protocol.md, Close codes)', () => {
  it('should close only with codes CLOSE_CODES names', () => {
    const named = new Set<number>(Object.values(CLOSE_CODES));
    for (const code of Object.values(CLOSE_FOR)) expect(named.has(code)).toBe(true);
    for (const { code } of Object.values(OTHER_CLOSES)) expect(named.has(code)).toBe(true);
  });

  it('should write no close code or close reason by hand outside codes.ts', () => {
    // a close made with a literal code or reason would be missing from the documented table
    const literal = /\b(?:close|closeSocket|refuse)\([^)]*?(?:\b(?:1\d{3}|4\d{3})\b|reason: ')/s;
    const offenders = sources(join(__dirname, '..'))
      .filter((path) => !path.endsWith(join('protocol', 'codes.ts')))
      .filter((path) => literal.test(readFileSync(path, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
