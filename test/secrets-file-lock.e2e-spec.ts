import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/api/config/app-config';
import { readStored, SECRETS_FILE, writeStored } from '@app/common';
import { legacyStoreMacKey } from '@app/tlog';
import { ApiProcess, runScript, startApiProcess } from './support/processes';
import { itOnSqliteFile } from './support/test-app';

/**
 * Review L-8: `<DATA_DIR>/secrets.json` (the secrets generated outside production) is a
 * read-modify-write of two processes at once: two starts on one DATA_DIR, keys:rotate while a
 * server starts. Real processes; test/support/pause-secrets-write.js (preloaded) holds the
 * first writer just before its rename puts the file in place, until the second has read it
 * (or asked for its lock), so the two always overlap: before the lock, the later rename won
 * and the other process ran on (or reported) values the file no longer held.
 */
describe('secrets.json written by two processes at once (e2e)', () => {
  const PRELOAD = join(__dirname, 'support', 'pause-secrets-write.js');
  const preload = (marks: string, pause: boolean): Record<string, string> => ({
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`.trim(),
    MDAI_SECRETS_MARKS: marks,
    ...(pause ? { MDAI_SECRETS_PAUSE: '1' } : {}),
  });
  let dir: string;
  const servers: ApiProcess[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-secrets-lock-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves once `marks` holds a file whose name starts with `prefix`. */
  const mark = async (marks: string, prefix: string): Promise<void> => {
    while (!readdirSync(marks).some((name) => name.startsWith(prefix)))
      await new Promise((done) => setTimeout(done, 20));
  };
  const dirs = (name: string) => {
    const own = join(dir, name);
    const a = join(own, 'marks-a');
    const b = join(own, 'marks-b');
    const data = join(own, 'data');
    for (const d of [a, b, data]) mkdirSync(d, { recursive: true });
    return { a, b, data };
  };
  /** The active log key a server signs with (raw Ed25519, base64). */
  const activeLogKey = async (server: ApiProcess): Promise<string> => {
    const answer = (await (await fetch(`${server.baseUrl}/api/v5/tlog/keys`)).json()) as {
      keys: Array<{ publicKey: string; status: string }>;
    };
    return answer.keys.find((k) => k.status === 'active')!.publicKey;
  };
  const rawOf = (pem: string): string =>
    Buffer.from(
      createPublicKey(pem.replace(/\\n/g, '\n')).export({ format: 'jwk' }).x!,
      'base64url',
    ).toString('base64');

  itOnSqliteFile(
    'two first starts on one DATA_DIR should run on the one secrets.json',
    async () => {
      const { a, b, data } = dirs('two-starts');
      const first = startApiProcess({ DATA_DIR: data, ...preload(a, true) });
      first.catch(() => undefined);
      await mark(a, 'paused-'); // its secrets generated, not yet in place
      const second = startApiProcess({ DATA_DIR: data, ...preload(b, false) });
      second.catch(() => undefined);
      await mark(b, 'touched-');
      writeFileSync(join(a, 'go'), '');
      const [one, two] = await Promise.all([first, second]);
      servers.push(one, two);
      const file = readStored(join(data, SECRETS_FILE));
      // before the lock: the second generated its own; one of the two ran on keys not on disk
      expect(await activeLogKey(one)).toBe(rawOf(file.TLOG_SIGNING_KEY));
      expect(await activeLogKey(two)).toBe(rawOf(file.TLOG_SIGNING_KEY));
      expect(readdirSync(data).filter((name) => name.startsWith(SECRETS_FILE))).toEqual([
        SECRETS_FILE,
      ]);
    },
  );

  it('keys:rotate while a server starts should keep both writes', async () => {
    const { a, b, data } = dirs('rotate-while-start');
    // an install from before STORE_MAC_KEY: its first start of this version generates it
    loadConfig({ DATA_DIR: data, NODE_ENV: 'test' });
    const before = readStored(join(data, SECRETS_FILE));
    delete before.STORE_MAC_KEY;
    delete before.STORE_MAC_RETIRED_KEYS;
    writeStored(join(data, SECRETS_FILE), before);
    const start = startApiProcess({ DATA_DIR: data, ...preload(a, true) });
    start.catch(() => undefined);
    await mark(a, 'paused-'); // STORE_MAC_KEY generated, not yet in place
    const rotation = runScript('keys-rotate', data, ['log'], preload(b, false));
    await mark(b, 'touched-');
    writeFileSync(join(a, 'go'), '');
    const [server, rotated] = await Promise.all([start, rotation]);
    servers.push(server);
    expect(rotated).toMatchObject({ code: 0 });
    const after = readStored(join(data, SECRETS_FILE));
    // the rotation (before the lock: overwritten by the start's write, though it said rotated)
    expect(after.TLOG_SIGNING_KEY).not.toBe(before.TLOG_SIGNING_KEY);
    expect(JSON.parse(after.TLOG_RETIRED_KEYS ?? '[]')).toHaveLength(1);
    // and the start's: the store-MAC key it runs on, the old log key's derived key kept
    expect(after.STORE_MAC_KEY).toBeTruthy();
    const derived = legacyStoreMacKey(
      createPrivateKey(before.TLOG_SIGNING_KEY.replace(/\\n/g, '\n')),
    );
    expect(
      (JSON.parse(after.STORE_MAC_RETIRED_KEYS) as Array<{ kid: string }>).map((k) => k.kid),
    ).toEqual([derived.kid]);
    // the server started on the log key before the rotation (a restart takes the new one)
    expect(await activeLogKey(server)).toBe(rawOf(before.TLOG_SIGNING_KEY));
    expect(existsSync(join(data, `${SECRETS_FILE}.lock`))).toBe(false);
  });
});
