import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// scripts/support/build-stamp.js: plain JavaScript, run by `npm start` before anything is built
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stamp = require('../scripts/support/build-stamp') as {
  isCurrent(root: string): boolean;
  writeStamp(root: string): void;
  clearStamp(root: string): void;
};

describe('npm start builds only when the build is not current (scripts/support/build-stamp.js)', () => {
  let root: string;
  const put = (file: string, content: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), content);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mdai-stamp-'));
    put('apps/api/src/main.ts', 'main');
    put('libs/a/src/a.ts', 'a');
    put('libs/a/src/a.spec.ts', 'spec');
    put('scripts/build.ts', 'build');
    put('package.json', '{}');
    put('package-lock.json', '{}');
    put('dist/apps/api/apps/api/src/main.js', 'built');
    put('dist/console/index.html', 'built');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('should count a build current after its stamp, and not once a source, the lockfile or the installed tree changes', () => {
    expect(stamp.isCurrent(root)).toBe(false); // never stamped
    stamp.writeStamp(root);
    expect(stamp.isCurrent(root)).toBe(true);
    for (const [file, content] of [
      ['libs/a/src/a.ts', 'a2'],
      ['libs/a/src/new.ts', 'new'],
      ['scripts/build.ts', 'build2'],
      ['package-lock.json', '{"v":2}'],
      ['node_modules/.package-lock.json', '{}'],
    ]) {
      put(file, content);
      expect([file, stamp.isCurrent(root)]).toEqual([file, false]);
      stamp.writeStamp(root);
      expect(stamp.isCurrent(root)).toBe(true);
    }
  });

  it('should ignore specs, and never count a build without its outputs or whose stamp was cleared', () => {
    stamp.writeStamp(root);
    put('libs/a/src/a.spec.ts', 'spec2');
    expect(stamp.isCurrent(root)).toBe(true);
    rmSync(join(root, 'dist/console/index.html'));
    expect(stamp.isCurrent(root)).toBe(false);
    put('dist/console/index.html', 'built');
    expect(stamp.isCurrent(root)).toBe(true);
    stamp.clearStamp(root); // a build that starts and fails half-way
    expect(stamp.isCurrent(root)).toBe(false);
  });

  it('should stamp the sources as they were when the build started, not an edit made during it', () => {
    stamp.clearStamp(root); // npm run build starts
    put('libs/a/src/a.ts', 'edited while building');
    stamp.writeStamp(root); // and ends
    expect(stamp.isCurrent(root)).toBe(false);
    stamp.clearStamp(root);
    stamp.writeStamp(root);
    expect(stamp.isCurrent(root)).toBe(true);
  });

  it('should be how npm start and npm run build use it', () => {
    const scripts = (
      JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.start).toMatch(
      /^\(node scripts\/support\/build-stamp\.js check \|\| npm run build\) && exec node dist\//,
    );
    expect(scripts.build).toMatch(/^node scripts\/support\/build-stamp\.js clear && /);
    expect(scripts.build).toMatch(/ && node scripts\/support\/build-stamp\.js write$/);
  });
});
