/**
 * What the record of issued offline tokens adds to each sync batch, on SQLite: the sync checks
 * its batch's token once (`TokenManager.verify`: signature, type, window; since the record, a
 * SHA-256 of the signed part too) and then asks `IssuedTokens.confirm` (one primary-key read of
 * `offline_tokens`). Ours: verify + confirm; baseline: verify alone. The store holds
 * TOKEN_RECORDS records (default 40,000: 20,000 phones, two live tokens each, the sync bench's
 * crew size); each round checks a token of a random phone. Rounds interleave the two tasks.
 * The first sync of each token also notes it was presented (one UPDATE, which the bound on
 * records per device reads): `first` checks tokens no sync presented yet, against `ours` on the
 * same number of checks (tokens presented already).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@app/common';
import {
  IssuedTokens,
  offlineTokenConfig,
  generateOfflineTokenKey,
  SigningKeyService,
  TokenManager,
} from '@app/device-trust';
import { SqliteIssuedTokenRepository } from '@app/device-trust/infrastructure/persistence/sqlite/repositories/sqlite-issued-token.repository';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { median, now, printRows } from './support';

export async function run(): Promise<void> {
  const records = Number(process.env.TOKEN_RECORDS ?? 40_000);
  const rounds = Number(process.env.TOKEN_ROUNDS ?? 20);
  const perRound = 2_000;
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-tokenrec-'));
  const store = new SqliteStore(join(dir, 'bench.sqlite'));
  try {
    const settings = offlineTokenConfig.read({
      OFFLINE_TOKEN_PRIVATE_KEY: generateOfflineTokenKey(),
    });
    const clock = new ManualClock(new Date());
    const manager = new TokenManager(new SigningKeyService(settings), settings, clock);
    const repo = new SqliteIssuedTokenRepository(store);
    const issued = new IssuedTokens(
      manager,
      repo,
      new SigningKeyService(settings),
      clock,
      settings,
    );
    await issued.onModuleInit();
    const tokens: string[] = [];
    for (let i = 0; i < records; i++) {
      const deviceId = i.toString(16).padStart(24, '0');
      const { token } = await issued.issue({ deviceId, workerId: deviceId, siteIds: ['s1'] });
      if (i % 20 === 0) tokens.push(token);
    }
    const at = clock.now();
    const pick = (i: number) => tokens[(i * 7919) % tokens.length];
    const verifyOnly = async (): Promise<number> => {
      const start = now();
      for (let i = 0; i < perRound; i++) {
        if (!manager.verify(pick(i), at, 300).ok) throw new Error('a token did not verify');
      }
      return ((now() - start) * 1000) / perRound;
    };
    const withRecord = async (): Promise<number> => {
      const start = now();
      for (let i = 0; i < perRound; i++) {
        const check = await issued.confirm(manager.verify(pick(i), at, 300));
        if (!check.ok) throw new Error('a token is not on record');
      }
      return ((now() - start) * 1000) / perRound;
    };
    // per round, tokens no sync presented yet (issued up front, one per phone of the crew)
    const firstPerRound = 500;
    const fresh: string[][] = [];
    for (let r = 0; r < rounds; r++) {
      const batch: string[] = [];
      for (let i = 0; i < firstPerRound; i++) {
        const deviceId = (r * firstPerRound + i).toString(16).padStart(24, '0');
        batch.push(
          (await issued.issue({ deviceId, workerId: deviceId, siteIds: ['s1'] }, at)).token,
        );
      }
      fresh.push(batch);
    }
    const confirmAll = async (list: string[]): Promise<number> => {
      const start = now();
      for (const token of list) {
        const check = await issued.confirm(manager.verify(token, at, 300));
        if (!check.ok) throw new Error('a token is not on record');
      }
      return ((now() - start) * 1000) / list.length;
    };
    const presentedAlready = Array.from({ length: firstPerRound }, (_, i) => pick(i));
    await verifyOnly();
    await withRecord();
    const ours: number[] = [];
    const base: number[] = [];
    const first: number[] = [];
    const again: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        ours.push(await withRecord());
        base.push(await verifyOnly());
        first.push(await confirmAll(fresh[r]));
        again.push(await confirmAll(presentedAlready));
      } else {
        base.push(await verifyOnly());
        ours.push(await withRecord());
        again.push(await confirmAll(presentedAlready));
        first.push(await confirmAll(fresh[r]));
      }
    }
    printRows(`Offline token record: the token check of one sync batch, ${records} records`, [
      {
        metric: `µs per batch's token check, verify + record read vs verify alone (median of ${rounds} rounds of ${perRound})`,
        ours: median(ours),
        baseline: median(base),
        unit: 'µs',
      },
      {
        metric: 'µs the record adds per batch (median of the per-round differences)',
        ours: median(ours.map((o, i) => o - base[i])),
        unit: 'µs',
      },
      {
        metric: `µs per check, a token's first sync (noted presented) vs a token presented already (median of ${rounds} rounds of ${firstPerRound})`,
        ours: median(first),
        baseline: median(again),
        unit: 'µs',
      },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
