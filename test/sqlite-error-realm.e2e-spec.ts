import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/**
 * The SQLite errors a test file sees are Errors of its own realm, whichever file of the jest
 * worker opened a database first. better-sqlite3's native addon is one per process and kept the
 * SqliteError constructor of the first file: under the whole suite fraud.service.spec.ts's
 * `rejects.toThrow` took the store's failure for no throw (a rejection not an Error in its
 * realm). Two files in one worker (a jest of its own, in band), each rejecting a write.
 */
describe('SQLite errors in every test file of a jest worker (jest setup)', () => {
  it("should be each file's own Errors, the second file's as the first's", async () => {
    const jestConfig = (await import(join(ROOT, 'jest.config.js'))) as {
      projects: { setupFiles?: string[] }[];
    };
    const { setupFiles } = jestConfig.projects[0];
    const config = {
      rootDir: ROOT,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/fixtures/sqlite-error-realm/*.fixture.js'],
      transform: {},
      setupFiles: setupFiles ?? [],
    };
    const child = spawn(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--runInBand', '--ci', '--config', JSON.stringify(config)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(output).toMatch(/Tests:\s+2 passed, 2 total/);
    expect(code).toBe(0);
  });
});
