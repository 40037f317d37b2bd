import { randomBytes } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import type { PendingLogEntry } from '@app/offline-sync';
import { TRUST_DEFAULTS, WorkforceService } from '@app/workforce';
import { WorkforceRepository } from '@app/workforce/infrastructure/persistence/workforce.repository';

let phones = 0;

/**
 * Gives the workers of `entries` (punches or corrections a spec appends straight to the ledger,
 * with made-up worker ids) a record at the entries' sites, as the server would have one: the
 * sync appends for no worker without one, and payroll and the CSV refuse a worker that has
 * entries but no record (503 `worker_tampered`, a row deleted in the database).
 *
 * A worker new to the store is written through the app's WorkforceRepository (tagged like
 * one the admin API created, its id the spec's; its enrollment code is never handed out); one
 * that exists already is given the entries' site through WorkforceService, as an admin would.
 */
export async function recordWorkersOf(
  app: INestApplication,
  entries: readonly PendingLogEntry[],
): Promise<void> {
  const sitesOf = new Map<string, Set<string>>();
  for (const { siteId, data } of entries) {
    const { workerId } = data as { workerId?: string };
    if (!workerId) continue;
    if (!sitesOf.has(workerId)) sitesOf.set(workerId, new Set());
    sitesOf.get(workerId)!.add(siteId);
  }
  const store = app.get(WorkforceRepository, { strict: false });
  const workforce = app.get(WorkforceService, { strict: false });
  for (const [id, sites] of sitesOf) {
    const worker = await store.findWorkerById(id);
    if (worker) {
      const missing = [...sites].filter((s) => !worker.siteIds.includes(s));
      if (missing.length > 0) {
        await workforce.updateWorker(id, { siteIds: [...worker.siteIds, ...missing] }, 'admin:e2e');
      }
      continue;
    }
    phones += 1;
    const now = new Date();
    const taken = await store.createWorker(
      {
        id,
        name: `Worker ${id.slice(0, 6)}`,
        // E.164, a number no other worker of the test process has (`nextPhoneNumber` counts +91 98765…)
        phone: `+9197654${String(phones).padStart(5, '0')}`,
        siteIds: [...sites],
        trustScore: TRUST_DEFAULTS.workerByAdmin,
        sponsor: { kind: 'admin', actor: 'admin:e2e' },
        status: 'active',
        createdAt: now,
      },
      {
        codeHash: randomBytes(32).toString('hex'),
        personKind: 'worker',
        personId: id,
        expiresAt: now,
      },
    );
    expect(taken).toBeUndefined();
  }
}
