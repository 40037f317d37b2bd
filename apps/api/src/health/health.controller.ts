import { Controller, Get, Header, Inject, OnModuleInit, Req, Res } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Request, Response } from 'express';
import { constants } from 'node:fs';
import { access, mkdir, statfs } from 'node:fs/promises';
import {
  ApiKeyService,
  appConfig,
  AppSettings,
  ErrorBody,
  EvictionPolicy,
  Public,
  RedisService,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@app/common';
import { SigningKeyService, WorkerDeviceService } from '@app/device-trust';
import { LegacyTaggingRefusal, LegacyTaggingState, Store } from '@app/persistence';
import {
  LogKeyService,
  SealRefusals,
  StoreMac,
  StoreMacReplicas,
  tlogConfig,
  TlogSettings,
  TransparencyLogService,
  WitnessRecovery,
  storeMacLegacyWarning,
  witnessPlacementWarning,
} from '@app/tlog';
import { LedgerService } from '@app/offline-sync';
import { TimesheetProjector } from '@app/timesheets';
import { FraudService } from '@app/fraud';
import { KioskRegistryService } from '@app/kiosk-registry';
import { WorkforceService } from '@app/workforce';
import { UnheldStoreMacKeys, unheldMessage } from './unheld-store-mac-keys';
import { VaultAuditService } from '@app/vault/vault-audit.service';
import { KeyHoldersService, KeyringService, VaultAuditWatch } from '@app/vault';
import {
  HealthChecks,
  healthReportSchema,
  HealthIndicatorResult,
  indicator,
} from './health-checks';

/** How often a refused log is asked of its owner again by /health. */
const RECHECK_MS = 1_000;
/** The whole Redis probe's bound (its PING, and the eviction policy when an admin asks). */
const REDIS_PROBE_MS = 2_000;

@ApiTags('health')
@Controller('health')
export class HealthController implements OnModuleInit {
  /** The log key, from the tlog module the ledger and the vault import (not the app itself). */
  private logKeys!: LogKeyService;
  /** The witness comparison made at start-up (libs/tlog). */
  private witnessRecovery!: WitnessRecovery;
  private refusals!: SealRefusals;
  /** The store-MAC key this instance tags under, and every replica's (libs/tlog). */
  private storeMac!: StoreMac;
  private storeMacReplicas!: StoreMacReplicas;
  private transparencyLog!: TransparencyLogService;
  /** The timesheet projection (absent in an app without the timesheets module). */
  private timesheets?: TimesheetProjector;
  /** The fraud event log (absent in an app without the fraud module). */
  private fraud?: FraudService;
  /** The worker devices (absent in an app without the device-trust module). */
  private devices?: WorkerDeviceService;
  private unheldKeys?: UnheldStoreMacKeys;
  /** The kiosk registry (absent in an app without the kiosk-registry module). */
  private kioskRegistry?: KioskRegistryService;
  /** The workforce (absent in an app without the workforce module). */
  private workforce?: WorkforceService;
  /** The owners of the logs a seal can refuse (absent in an app without their module). */
  private ledger?: LedgerService;
  private vaultAudit?: VaultAuditService;
  /** The vault audit watch (absent in an app without the vault module). */
  private vaultWatch?: VaultAuditWatch;
  /** When each refused log was last re-checked with its owner (by origin). */
  private readonly rechecked = new Map<string, number>();

  constructor(
    private readonly health: HealthChecks,
    private readonly store: Store,
    private readonly redis: RedisService,
    private readonly apiKeys: ApiKeyService,
    @Inject(appConfig.KEY) private readonly app: AppSettings,
    @Inject(tlogConfig.KEY) private readonly tlogSettings: TlogSettings,
    private readonly keyring: KeyringService,
    private readonly keyHolders: KeyHoldersService,
    private readonly tokenKeys: SigningKeyService,
    private readonly modules: ModuleRef,
  ) {}

  onModuleInit(): void {
    this.logKeys = this.modules.get(LogKeyService, { strict: false });
    this.witnessRecovery = this.modules.get(WitnessRecovery, { strict: false });
    this.refusals = this.modules.get(SealRefusals, { strict: false });
    this.storeMac = this.modules.get(StoreMac, { strict: false });
    this.storeMacReplicas = this.modules.get(StoreMacReplicas, { strict: false });
    this.transparencyLog = this.modules.get(TransparencyLogService, { strict: false });
    try {
      this.timesheets = this.modules.get(TimesheetProjector, { strict: false });
    } catch {
      this.timesheets = undefined;
    }
    try {
      this.fraud = this.modules.get(FraudService, { strict: false });
    } catch {
      this.fraud = undefined;
    }
    try {
      this.unheldKeys = this.modules.get(UnheldStoreMacKeys, { strict: false });
    } catch {
      this.unheldKeys = undefined;
    }
    try {
      this.devices = this.modules.get(WorkerDeviceService, { strict: false });
    } catch {
      this.devices = undefined;
    }
    try {
      this.kioskRegistry = this.modules.get(KioskRegistryService, { strict: false });
    } catch {
      this.kioskRegistry = undefined;
    }
    try {
      this.workforce = this.modules.get(WorkforceService, { strict: false });
    } catch {
      this.workforce = undefined;
    }
    try {
      this.ledger = this.modules.get(LedgerService, { strict: false });
    } catch {
      this.ledger = undefined;
    }
    try {
      this.vaultAudit = this.modules.get(VaultAuditService, { strict: false });
    } catch {
      this.vaultAudit = undefined;
    }
    try {
      this.vaultWatch = this.modules.get(VaultAuditWatch, { strict: false });
    } catch {
      this.vaultWatch = undefined;
    }
  }

  /**
   * Open to anyone (load balancers, compose's healthcheck): the status and its HTTP code only.
   * Which dependency is down and its details (store driver and file, Redis, free disk space)
   * describe the deployment, so they go to an admin key alone; a key that is given is checked
   * as on every route (unknown 401, another role 403), so a mistyped key is never a silent
   * summary.
   */
  @Public()
  @Get()
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  @ApiOperation({
    summary: 'Whether this instance can serve: 200 or 503 (details with an admin key)',
  })
  @ApiHeader({
    name: 'x-api-key',
    required: false,
    description:
      'An admin key: the answer then carries every check (`info`, `error`, `details`). Without it, only `status`',
  })
  @ApiOkResponse({
    description:
      'The store (and Redis, when configured) answer; the uploads directory is writable and DATA_DIR has free space. With an admin key, `tlog.warning` says when, in production, TLOG_WITNESS_FILE is inside DATA_DIR (whoever can write DATA_DIR can rewrite a log and its witness lines alike): a warning, not degraded; `redis.maxmemoryPolicy` and `redis.maxmemory` (admin) are what Redis evicts under its memory limit, as read at the last connect of the health connection or of the relay bus connection, and again in the background when a probe finds that read older than 5 minutes (`unknown` when the Redis refuses CONFIG or did not answer), with `redis.warning` when Redis may evict the keys of MDAI: any policy but noeviction, with a maxmemory (a volatile-* policy evicts the keys with a TTL: the live relay slots, the used marks of legacy apps, the kiosk presence and the rate-limit counters; an allkeys-* one those and the run and epoch keys of the relay slot store, each eviction holding free relay slots back for one RELAY_SLOT_TTL_MS): not degraded (every replica shares the Redis), set noeviction; `tlog.storeMacLegacy` says that STORE_MAC_LEGACY=1 is set (store tags under the key derived from TLOG_SIGNING_KEY verify, so that key alone can make rows the server takes as its own): not degraded. `tlog.unsealedLogs` names each log this instance knows has entries committed past its last checkpoint (`origin`, `size`: the entries to seal, `since` when the sweep found it, `retrying`: a seal of this instance failed on it), until a checkpoint covers them: a seal that failed, or a crash between a commit and its seal found by the sweep every instance runs at start-up and every TLOG_UNSEALED_SWEEP_MS (a minute by default); sealed in the background (mdai_tlog_unsealed_logs counts them), not degraded. `keys.storeMacKid` (admin) is the id of the store-MAC key this instance tags under (never the key) and `keys.storeMacReplicas` the live replicas recorded with theirs (`replicaId`, `host`, `kid`, `seenAt`, `self` for this one; each records it at boot and every STORE_MAC_HEARTBEAT_MS, live for 3 of them): npm run keys:retag refuses while one differs from its STORE_MAC_KEY; never degraded (a rolling rotation makes them differ for a while). `fraud.tamperedEvents` and `fraud.events` (admin) count and name the fraud events this instance read as changed outside the server (their tags do not verify): reported, not degraded; `fraud.legacySealedAt` and `fraud.legacySealedCount` say when and how many events from before the tags were tagged as legacy, `fraud.legacySealRefused` that this start refused to, `fraud.legacySealRefusedReason` why: `tagged_rows` (the `fraud_seal` marker gone while rows carry tags) or `not_allowed` (untagged rows, no marker and no tagged row, with FRAUD_LEGACY_TAGGING off: a store from before the tags, or one whose every tagged fraud row and marker were deleted); `devices.legacySealedAt` and `devices.legacySealedCount` (admin) the same for the worker devices (their block state and events), `kiosks.legacySealedAt` and `kiosks.legacySealedCount` (admin) for the kiosks (their key and status), `workers.legacySealedAt` and `workers.legacySealedCount` (admin) for the workers (their record: marker `worker_seal`; `workers.legacySealRefused` with its reason and message when this start refused to tag them: every worker created before then reads tampered and is refused, `worker_tampered`); `sites.legacySealedAt`/`sites.legacySealedCount` and `thekedars.legacySealedAt`/`thekedars.legacySealedCount` (admin) the same for the sites (their geofence and time zone: marker `site_seal`) and the thekedars (their sites, phone and trust: marker `thekedar_seal`), with `legacySealRefused`, its reason and message when this start refused to tag them (every one created before then reads tampered and is refused: `site_tampered`, every sync and payroll of such a site 503, `thekedar_tampered`); reported, not degraded, as for the worker devices below (every replica refuses alike: a degraded /health on all of them would take every route out of rotation, and the compose proxy would not start), the gauges mdai_workers_legacy_tagging_refused, mdai_sites_legacy_tagging_refused and mdai_thekedars_legacy_tagging_refused are 1 (alerts page on them); `devices.legacySealRefused: true` with `devices.legacySealRefusedReason` and `devices.message` when this start refused to tag the worker devices from before the tags: `not_allowed` (untagged devices, no `worker_device_seal` marker and no tagged device, with FRAUD_LEGACY_TAGGING off) or `tagged_rows` (the marker gone while untagged and tagged devices are both stored); every phone enrolled before the upgrade then reads tampered and is refused (403 `device_blocked`): restart once with FRAUD_LEGACY_TAGGING=1 when this start upgrades the store (then unset it), otherwise restore the devices and the marker from a backup (alert on mdai_worker_devices_legacy_tagging_refused); `kiosks.legacySealRefused` the same for the kiosks (marker `kiosk_seal`; every kiosk registered before the upgrade then refused as blocked, `device_blocked`: no Wi-Fi challenge, relay auth or pairing; alert on mdai_kiosks_legacy_tagging_refused); `devices.unheldStoreMacKids` (admin) names the store-MAC key ids that the manifest of the backup this DATA_DIR was restored from (its backup-manifest.json, `storeMacKids`) lists and this instance does not hold, while worker devices, kiosks or fraud events read tampered (`devices.tamperedUnderUnheldKids`: `devices`, `kiosks`, `fraudEvents`, `atLeast` when the count stopped at its bound, 20,000 rows read in all; counted in the background once the server listens, and reported once counted, with an ALARM log line; a row under a key not held cannot be told from a forged one): a key dropped from STORE_MAC_RETIRED_KEYS since the backup, under which the restored rows are tagged; they stay refused (403 device_blocked) until it is put back and every replica restarted (`devices.message` says so). Both reported, not degraded: every replica reads the same store, so taking them out of rotation would stop the new phones and kiosks too and repair nothing. `vault.tamperedAudit` (admin) names the sealed vault audit record the audit watch of this instance found failing its check (`seq`, `reason` as the audit verify names it, `since`: changed in the database after its seal; VAULT_AUDIT_CHECK_MS, VAULT_AUDIT_CHECK_RECORDS), until a pass finds the log whole again: reported, not degraded, for the same reason (alert on mdai_vault_audit_tampered). `timesheets.tamperedSites` lists the sites whose punch copies a recompute, a rebuild or the entry watch (TIMESHEET_ENTRY_CHECK_ROWS) read changed, since this instance started, until a rebuild of the site (`npm run timesheets:rebuild`): their reads answer 503 timesheets_tampered while those rows still fail their check (a copy put back as the server wrote it reads again, and its site stays listed until the rebuild)\n\nThe Health Check is successful',
    schema: healthReportSchema('ok'),
  })
  @ApiServiceUnavailableResponse({
    description:
      'A dependency is down, or the instance is shutting down: `status` beside statusCode, code `unhealthy`, message and correlationId; with an admin key also the terminus body (`error.<dependency>.message` says why). The disk is down when the uploads directory is not writable, or degraded when free space under DATA_DIR is below HEALTH_MIN_FREE_BYTES. The keys are degraded when this instance found values sealed under a master key version its VAULT_KEYS lacks and another live server holds (it is behind a rollout: restart it with the current VAULT_KEYS; a version no live server holds is listed as `keys.vaultKeyVersionsUnheld` without degrading), or signs checkpoints or offline tokens with a key its own key history says was retired before now (restart it with the new key). The tlog is degraded (`reason: log_rolled_back`, `logs` with each witnessed and stored size) when at start-up the store of a log ended before the checkpoints of the witness file: the store was rolled back to an older copy (after a planned restore, put the witness file of the backup in place and restart), or (`reason: nodes_missing`, `missingNodes` naming each log and why) when the stored Merkle nodes of a log were deleted and could not be rebuilt from its entries (the server rebuilds them itself, at start-up and on the next append or proof of the log, when the entries give the root its last checkpoint signs; degraded meanwhile), or (`reason: nodes_mismatch`, `mismatchedNodes` naming each log, the size of its last checkpoint and why) when the stored Merkle nodes of a log do not give the root its last checkpoint signs (rewritten outside the server) and its entries do not give it either: no checkpoint is signed over them, its appends answer 503 (`checkpoint_unavailable`, `audit_unavailable`) until the nodes are put back, which the next seal, or /health itself (reading the nodes again at most once a second), finds with no restart (nodes the entries prove are rebuilt from them without degrading; entries found not to give the root are read again after 10 minutes, so restoring them needs no restart either), or (`reason: checkpoint_unverified`, `unverifiedCheckpoints` naming each log, the size of the row and the size of the largest stored checkpoint that verifies, trusted instead, and `keyMismatch`: no stored checkpoint of the log verifies, most likely the wrong TLOG_SIGNING_KEY rather than a forged row) when the latest stored checkpoint of a log is not signed by the key of the log (written straight into the database; delete the row). The logs are degraded when a seal was refused: an entry past the last checkpoint of a log carries no valid server MAC (written straight into the database), or a MAC copied from another entry (its data does not hash to the tagged recordHash, or it does not chain to the entry before it); `error.logs.unauthenticatedEntries` names the log, site, seq and reason (`untagged`, `retired_key`, `bad_tag`, `record_hash_mismatch`, `prev_hash_mismatch`; run `ledger:seal-foreign` for a site ledger, `vault:seal-foreign` for the vault audit log, whose refusal also answers the vault requests 503 `audit_unavailable`). The timesheets are never degraded by the ledger or the read model being changed in the database (every replica reads the same store: taking them out of rotation repairs nothing): a site whose read model stops before a sealed ledger link that fails its check (rewritten or deleted in the database after its seal) is listed in `timesheets.stoppedSites` (site, seq, reason, since when) of a 200 or 503 body alike; the timesheet reads of the site answer 503 `timesheets_ledger_unverified` until the link is put back as sealed, checked again when the stored link changes or once a minute (alert on mdai_timesheet_sites_stopped).\n\nThe Health Check is not successful',
    schema: healthReportSchema('error'),
  })
  @ApiResponse({
    status: 401,
    type: ErrorBody,
    description:
      'unauthorized: an x-api-key the server does not know (without one: the status, 200 or 503)',
  })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description: 'forbidden: an x-api-key of another role',
  })
  async check(
    @Req() request: Request & { id?: string },
    @Res({ passthrough: true }) response: Response,
  ) {
    const detailed = this.detailsAllowed(request);
    const checks: Array<() => Promise<HealthIndicatorResult>> = [
      () => this.probe('store', () => this.store.ping(), this.store.healthDetails()),
      () => this.disk(),
      () => this.keys(detailed),
      () => this.tlog(),
      () => this.logs(),
      () => this.readModel(),
      () => this.vault(),
      () => this.fraudEvents(),
      () => this.workerDevices(),
      () => this.kiosks(),
      () => this.workers(),
      () => this.records('site'),
      () => this.records('thekedar'),
    ];
    if (this.redis.enabled) {
      checks.push(() => this.redisCheck(detailed));
    }
    const report = await this.health.run(checks);
    if (report.status === 'ok') return detailed ? report : { status: report.status };
    // the standard error fields, and for an admin the report (which check failed, and why)
    response.status(503);
    (response.locals as { errorCode?: string }).errorCode = 'unhealthy';
    const failed = Object.keys(report.error).join(', ');
    return {
      statusCode: 503,
      code: 'unhealthy',
      message: detailed && failed ? `Unhealthy: ${failed}` : 'Unhealthy',
      correlationId: String(request.id ?? ''),
      ...(detailed ? report : { status: report.status }),
    };
  }

  /**
   * Logs whose seal was refused: an entry past the last checkpoint without the server's store
   * MAC (written straight into the database). Degraded until an operator seals them
   * (`ledger:seal-foreign` for a site's ledger, `vault:seal-foreign` for the vault audit); the
   * log and the seq are named, nothing of the entry.
   */
  private async logs() {
    const logs = indicator('logs');
    await this.recheckRefusals();
    const refused = this.refusals.list();
    if (refused.length === 0) return logs.up();
    const commands = [
      ...new Set(
        refused.map((r) =>
          r.log === 'vault-audit' ? 'vault:seal-foreign' : 'ledger:seal-foreign',
        ),
      ),
    ];
    return logs.down({
      state: 'degraded',
      message: `entries past the last checkpoint carry no valid server MAC: not sealed, appends refused (run ${commands.join(', ')})`,
      unauthenticatedEntries: refused.map((r) => ({
        log: r.log,
        ...(r.siteId ? { siteId: r.siteId } : {}),
        seq: r.seq,
        reason: r.reason,
      })),
    });
  }

  /**
   * A refusal clears when its owner next meets the log (an append, a seal of this process); an
   * operator's `*:seal-foreign` runs in another process, so a replica that takes no request of
   * the log would stay degraded: each refused log is asked of its owner again (its first
   * unauthenticated entry past the last checkpoint), at most once a second, and cleared when
   * there is none. A failed re-check keeps the refusal.
   */
  private async recheckRefusals(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.refusals.entries().map(async ([origin, refusal]) => {
        if (now - (this.rechecked.get(origin) ?? 0) < RECHECK_MS) return;
        this.rechecked.set(origin, now);
        const owner =
          refusal.log === 'vault-audit'
            ? this.vaultAudit?.firstUnauthenticated()
            : refusal.siteId !== undefined
              ? this.ledger?.firstUnauthenticated(refusal.siteId)
              : undefined;
        if (!owner) return;
        const foreign = await owner.catch(() => null);
        if (foreign === undefined && this.refusals.of(origin) === refusal)
          this.refusals.clear(origin);
      }),
    );
    for (const origin of this.rechecked.keys())
      if (!this.refusals.of(origin)) this.rechecked.delete(origin);
  }

  /** No key: the summary; an admin key: the details; any other key is refused (401/403). */
  private detailsAllowed(request: Request): boolean {
    const header = request.headers['x-api-key'];
    if (header === undefined) return false;
    this.apiKeys.authorize(Array.isArray(header) ? header[0] : header, ['admin']);
    return true;
  }

  /**
   * The vault writes under UPLOADS_DIR: a root-owned or read-only volume is a down dependency,
   * not a 500 later; free space under DATA_DIR below the threshold means writes are about to
   * answer 507 storage_full.
   */
  private async disk() {
    const disk = indicator('disk');
    const { dataDir, uploadsDir, healthMinFreeBytes } = this.app;
    try {
      await withTimeout(uploadsWritable(uploadsDir), 2000);
    } catch (error) {
      return disk.down({ message: (error as Error).message });
    }
    try {
      const fs = await withTimeout(statfs(dataDir), 2000);
      const freeBytes = Number(fs.bavail) * Number(fs.bsize);
      const details = { freeBytes, thresholdBytes: healthMinFreeBytes };
      if (freeBytes >= healthMinFreeBytes) return disk.up(details);
      return disk.down({
        ...details,
        state: 'degraded',
        message: 'free space under DATA_DIR is below HEALTH_MIN_FREE_BYTES; writes may fail',
      });
    } catch (error) {
      return disk.down({
        state: 'unavailable',
        message: `DATA_DIR cannot be examined (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      });
    }
  }

  /**
   * The instance's keys: a master key version it was asked for and lacks while another live
   * server holds it (a replica restarted with a newer VAULT_KEYS, or a reseal, moved on: this
   * one is behind the rollout, and every sync and refresh needing it answers 503
   * key_unavailable here but not there), or a signing key its own key history retired before
   * now (what it signs does not verify). Either way it must be restarted with the current keys.
   * A version it lacks that no live server holds does not degrade it (`vaultKeyVersionsUnheld`):
   * no replica can open those values, restarting this one with its keys changes nothing, and
   * anyone who knows such a device could otherwise keep every replica out of rotation; the
   * request still answers 503 key_unavailable, the metric and the log say it.
   */
  private async keys(detailed: boolean) {
    const keys = indicator('keys');
    const now = new Date();
    const missing = this.keyring.missingVersions(now);
    const details: Record<string, unknown> = {
      vaultKeyVersions: this.keyring.versions(),
      ...(detailed ? await this.storeMacDetails(now) : {}),
    };
    let holders = new Map<string, number>();
    let holdersKnown = true;
    if (missing.length > 0) {
      try {
        holders = await withTimeout(
          this.keyHolders.holdersOf(
            missing.map((m) => m.version),
            now,
          ),
          2000,
        );
      } catch (error) {
        // the store does not answer in time: which servers hold what is unknown, so the
        // versions count as held elsewhere (a replica behind a rollout must not stay in
        // rotation because the holders' read was slow; a store that is down is down anyway)
        holdersKnown = false;
        details.vaultKeyHolders = `unknown (${(error as Error).message})`;
      }
    }
    const unheld = missing.filter((m) => !holders.get(m.version)).map((m) => m.version);
    if (unheld.length > 0 && !details.vaultKeyHolders) details.vaultKeyVersionsUnheld = unheld;
    const problems = [
      ...missing
        .filter(({ version }) => !holdersKnown || (holders.get(version) ?? 0) > 0)
        .map(({ version, since }) =>
          holdersKnown
            ? `values are sealed under master key version ${version} (seen since ${since.toISOString()}), which VAULT_KEYS does not hold and ${holders.get(version)} other live server(s) hold: restart with the current VAULT_KEYS`
            : `values are sealed under master key version ${version} (seen since ${since.toISOString()}), which VAULT_KEYS does not hold; whether another live server holds it is unknown (the store did not answer in time)`,
        ),
      this.logKeys.keyProblemAt(now),
      this.tokenKeys.keyProblemAt(now),
    ].filter((p): p is string => p !== undefined);
    if (problems.length === 0) return keys.up(details);
    return keys.down({ ...details, state: 'degraded', message: problems.join('; ') });
  }

  /**
   * For an admin (a store read, so not for the load balancer's probes): the id of the store-MAC
   * key this instance tags under (`storeMacKid`, never the key) and the live replicas recorded
   * with theirs (`storeMacReplicas`: id, host, kid, last seen), what `keys:retag` refuses on
   * while one differs. Reported, never degrading: during a rolling STORE_MAC_KEY rotation the
   * replicas differ for a while by design.
   */
  private async storeMacDetails(now: Date): Promise<Record<string, unknown>> {
    try {
      const replicas = await withTimeout(this.storeMacReplicas.list(now), 2000);
      return {
        storeMacKid: this.storeMac.kid,
        storeMacReplicas: replicas
          .filter((r) => r.live)
          .map((r) => ({
            replicaId: r.replicaId,
            host: r.host,
            kid: r.kid,
            seenAt: r.seenAt.toISOString(),
            ...(r.self ? { self: true } : {}),
          })),
      };
    } catch (error) {
      return {
        storeMacKid: this.storeMac.kid,
        storeMacReplicas: `unknown (${(error as Error).message})`,
      };
    }
  }

  /**
   * The transparency logs against the witness file, as found at start-up: a log whose store
   * ends before its witnessed checkpoints (a rollback to an older copy) is degraded,
   * `log_rolled_back`, until the store or the witness file is put right and the server restarted.
   */
  private async tlog() {
    const tlog = indicator('tlog');
    const behind = this.witnessRecovery.rolledBack();
    const lost = this.transparencyLog.lostNodes();
    // nodes put back while no seal of this process ran clear here, not only by the next seal;
    // bounded like every read /health makes (a store that hangs keeps the last state)
    await withTimeout(this.transparencyLog.recheckMismatched(), 2000).catch(() => undefined);
    const mismatched = this.transparencyLog.mismatchedNodes();
    const unverified = this.transparencyLog.unverifiedCheckpoints();
    // a warning, not degraded: every replica shares the placement, and moving the file is the
    // operator's (restarting this one changes nothing)
    const warning = witnessPlacementWarning(this.tlogSettings.witnessFile, this.app);
    // STORE_MAC_LEGACY=1 (review M5): a setting the operator chose, said so it is not forgotten;
    // not degraded either (restarting changes nothing, and the upgrade it serves needs it)
    const legacyMac = storeMacLegacyWarning(this.tlogSettings);
    // committed entries past their last checkpoint: sealed in the background (a seal that
    // failed here, or the sweep's find after a crash between a commit and its seal); reported,
    // not degraded (every replica shares the store: taking this one out repairs nothing)
    const unsealed = this.transparencyLog.unsealedLogs();
    const warned = {
      ...(warning ? { warning } : {}),
      ...(legacyMac ? { storeMacLegacy: legacyMac } : {}),
      ...(unsealed.length > 0
        ? {
            unsealedLogs: unsealed.map((u) => ({
              origin: u.origin,
              size: u.size,
              ...(u.since ? { since: u.since.toISOString() } : {}),
              retrying: u.retrying,
            })),
          }
        : {}),
    };
    if (
      behind.length === 0 &&
      lost.length === 0 &&
      mismatched.length === 0 &&
      unverified.length === 0
    )
      return tlog.up(warned);
    const messages = [
      ...behind.map(
        (b) =>
          `log ${b.origin}: the witness file holds a checkpoint of size ${b.witnessedSize}, the store's latest is ${b.storedSize} (rolled back to an older copy; verify answers tail_cut)`,
      ),
      ...lost.map(
        (l) =>
          `log ${l.origin}: stored Merkle nodes are missing (deleted outside the server), appends and proofs fail: ${l.reason}`,
      ),
      ...mismatched.map(
        (m) =>
          `log ${m.origin}: stored Merkle nodes do not give the root its checkpoint of size ${m.size} signs (rewritten outside the server), its appends are not sealed: ${m.reason}`,
      ),
      ...unverified.map((u) =>
        u.keyMismatch
          ? `log ${u.origin}: no stored checkpoint (the latest of size ${u.size}) is signed by a key of the log's key history: the configured log key most likely does not match the store's (wrong keys: TLOG_SIGNING_KEY, TLOG_RETIRED_KEYS; e.g. a DATA_DIR made by npm start, whose secrets.json production ignores), or the rows were written outside the server: not trusted (verify answers checkpoint_signature_invalid)`
          : `log ${u.origin}: the latest stored checkpoint (size ${u.size}) is not signed by the log's key (written outside the server): not trusted, the checkpoint of size ${u.trustedSize} is (verify answers checkpoint_signature_invalid)`,
      ),
    ];
    return tlog.down({
      state: 'degraded',
      reason:
        behind.length > 0
          ? 'log_rolled_back'
          : lost.length > 0
            ? 'nodes_missing'
            : mismatched.length > 0
              ? 'nodes_mismatch'
              : 'checkpoint_unverified',
      ...(behind.length > 0 ? { logs: behind } : {}),
      ...(lost.length > 0
        ? {
            missingNodes: lost.map((l) => ({
              origin: l.origin,
              since: l.since.toISOString(),
              reason: l.reason,
            })),
          }
        : {}),
      ...(mismatched.length > 0
        ? {
            mismatchedNodes: mismatched.map((m) => ({
              origin: m.origin,
              size: m.size,
              since: m.since.toISOString(),
              reason: m.reason,
            })),
          }
        : {}),
      ...(unverified.length > 0
        ? {
            unverifiedCheckpoints: unverified.map((u) => ({
              origin: u.origin,
              size: u.size,
              trustedSize: u.trustedSize,
              keyMismatch: u.keyMismatch,
              since: u.since.toISOString(),
            })),
          }
        : {}),
      message: messages.join('; '),
      ...warned,
    });
  }

  /**
   * Sites whose timesheet entries failed their tags, or were older than their corrections
   * (changed outside the server, put back from before a correction): their reads
   * answer 503 timesheets_tampered until `npm run timesheets:rebuild`. Reported, not degrading:
   * every replica shares the store, so taking this one out of rotation repairs nothing, and a
   * database writer could otherwise take them all out (the metric
   * mdai_timesheet_rows_tampered_total is what to alert on).
   * Sites whose read model stops before a sealed ledger link that fails its check (LV #4:
   * rewritten or deleted after its seal): reported the same way, naming the site, the seq and
   * why, nothing of the link; their reads answer 503 timesheets_ledger_unverified. Not degrading
   * either (review M4): one link rewritten by a database writer would take every replica out of
   * a load balancer's rotation; mdai_timesheet_sites_stopped is what to alert on.
   */
  private async readModel() {
    const check = indicator('timesheets');
    const sites = this.timesheets?.tamperedSites() ?? [];
    const stopped = this.timesheets?.stoppedSites() ?? [];
    if (sites.length === 0 && stopped.length === 0) return check.up();
    const tampered =
      sites.length === 0
        ? {}
        : {
            tamperedSites: sites.slice(0, 100).map((s) => ({
              siteId: s.siteId,
              rows: s.rows,
              since: new Date(s.since).toISOString(),
            })),
          };
    const tamperedMessage =
      'timesheet entries changed outside the server (tags do not verify, or older than the corrections stored with them): reads of these sites answer 503 timesheets_tampered while those rows still fail; listed until npm run timesheets:rebuild rebuilds the site';
    if (stopped.length === 0) return check.up({ ...tampered, message: tamperedMessage });
    return check.up({
      stoppedSites: stopped.slice(0, 100).map((s) => ({
        siteId: s.siteId,
        seq: s.seq,
        reason: s.reason,
        since: new Date(s.since).toISOString(),
      })),
      ...tampered,
      message: [
        "sealed ledger links fail their check (changed in the database after their seal): these sites' timesheets stop before them and their reads answer 503 timesheets_ledger_unverified until the links are put back as sealed (verify names them)",
        ...(sites.length > 0 ? [tamperedMessage] : []),
      ].join('; '),
    });
  }

  /**
   * A sealed vault audit record the audit watch found failing its check (changed in the
   * database after its seal: VaultAuditWatch), by seq and reason, until a pass finds the log
   * whole. Reported, not degrading, as the timesheets' and the fraud events' (every replica
   * reads the same store: taking them out of rotation repairs nothing); alert on
   * mdai_vault_audit_tampered.
   */
  private async vault() {
    const check = indicator('vault');
    const found = this.vaultWatch?.tampered();
    if (!found) return check.up();
    return check.up({
      tamperedAudit: {
        seq: found.seq,
        reason: found.reason,
        since: new Date(found.since).toISOString(),
      },
      message:
        'a sealed vault audit record fails its check (changed in the database after its seal): restore it from a backup; GET /api/v5/vault/audit/verify names the same record',
    });
  }

  /**
   * Fraud events this instance read as changed outside the server (their tags, or their review
   * history, do not verify): listed marked `tampered`, not reviewable (503
   * fraud_event_tampered). Reported, not degrading, for the reason the timesheets' are: every
   * replica shares the store, so taking this one out of rotation repairs nothing, and a database
   * writer could otherwise take them all out (alert on mdai_fraud_events_tampered_total).
   */
  private async fraudEvents() {
    const check = indicator('fraud');
    const tampered = this.fraud?.tampered() ?? [];
    // a store read: bounded like every read /health makes (a frozen store answers `store` down
    // in time; the marker is left out meanwhile)
    const legacy = this.fraud
      ? await withTimeout(this.fraud.legacySeal(), 2000).catch(() => undefined)
      : undefined;
    const seal = {
      ...(legacy?.sealedAt ? { legacySealedAt: legacy.sealedAt.toISOString() } : {}),
      ...(legacy?.count !== undefined ? { legacySealedCount: legacy.count } : {}),
      ...(legacy?.refused
        ? {
            legacySealRefused: true,
            legacySealRefusedReason: legacy.refusedReason ?? 'tagged_rows',
          }
        : {}),
    };
    const messages = [
      ...(legacy?.refused
        ? [
            legacy.refusedReason === 'not_allowed'
              ? 'untagged fraud rows on a store with no fraud_seal marker and no tagged row, and FRAUD_LEGACY_TAGGING off: the legacy tagging was refused and untagged rows read as tampered; restart once with FRAUD_LEGACY_TAGGING=1 if this start upgrades a store from a version without fraud tags, otherwise restore the fraud rows and fraud_seal from a backup'
              : 'the fraud_seal marker is gone while fraud rows carry tags: the legacy tagging was refused and untagged rows read as tampered; restore fraud_seal from a backup',
          ]
        : []),
      ...(tampered.length > 0
        ? [
            'fraud events changed outside the server (their tags do not verify): listed with integrity tampered and not reviewable; restore them from a backup and compare with the ledger',
          ]
        : []),
    ];
    if (tampered.length === 0 && messages.length === 0) return check.up(seal);
    return check.up({
      ...seal,
      ...(tampered.length > 0
        ? {
            tamperedEvents: tampered.length,
            events: tampered.slice(-100).map((t) => ({
              eventId: t.eventId,
              since: t.since.toISOString(),
            })),
          }
        : {}),
      message: messages.join('; '),
    });
  }

  /**
   * The worker devices' legacy tagging refused at this start (WorkerDeviceSeal): every device
   * from before the tags reads tampered, so blocked, and every such phone's sync and refresh
   * answers 403 device_blocked. Reported, not degraded, as the fraud rows' refusal (review A
   * F1: every replica refuses alike, and a degraded /health on all of them would take the phones
   * enrolled since, and every other route, out of rotation too). Alert on
   * mdai_worker_devices_legacy_tagging_refused.
   */
  private async workerDevices() {
    const checked = await legacyTaggingCheck('devices', this.devices, {
      not_allowed:
        'untagged worker devices on a store with no worker_device_seal marker and no tagged device, and FRAUD_LEGACY_TAGGING off: the legacy tagging was refused, so every phone enrolled before the upgrade reads tampered and is refused (403 device_blocked); restart once with FRAUD_LEGACY_TAGGING=1 if this start upgrades a store from a version without device tags (then unset it), otherwise restore the worker devices and worker_device_seal from a backup',
      tagged_rows:
        'the worker_device_seal marker is gone while worker devices carry tags: the legacy tagging was refused, so every untagged phone reads tampered and is refused (403 device_blocked); restart once with FRAUD_LEGACY_TAGGING=1 if this is an upgrade first started without it (then unset it), otherwise restore worker_device_seal from a backup (or block and unblock each device as an admin)',
    });
    // a restored backup's rows under a store-MAC key this server lacks (UnheldStoreMacKeys):
    // reported, not degraded, as the refusal above (every replica lacks it alike)
    const unheld = this.unheldKeys?.finding();
    if (!unheld) return checked;
    const { status: _status, ...details } = checked.devices;
    const message = [details.message, unheldMessage(unheld)].filter(Boolean).join('; ');
    return indicator('devices').up({
      ...details,
      unheldStoreMacKids: unheld.kids,
      tamperedUnderUnheldKids: {
        devices: unheld.devices,
        kiosks: unheld.kiosks,
        fraudEvents: unheld.fraudEvents,
        ...(unheld.capped ? { atLeast: true } : {}),
      },
      message,
    });
  }

  /**
   * The kiosks' legacy tagging refused at this start (KioskSeal): every kiosk from before the
   * tags reads tampered, so blocked (its Wi-Fi challenge, relay auth and pairing refused with
   * device_blocked). Reported, as the worker devices' refusal. Alert on
   * mdai_kiosks_legacy_tagging_refused.
   */
  private kiosks() {
    return legacyTaggingCheck('kiosks', this.kioskRegistry, {
      not_allowed:
        'untagged kiosks on a store with no kiosk_seal marker and no tagged kiosk, and FRAUD_LEGACY_TAGGING off: the legacy tagging was refused, so every kiosk registered before the upgrade reads tampered and is refused as blocked (device_blocked: no Wi-Fi challenge, relay auth or pairing); restart once with FRAUD_LEGACY_TAGGING=1 if this start upgrades a store from a version without kiosk tags (then unset it), otherwise restore the kiosks and kiosk_seal from a backup',
      tagged_rows:
        "the kiosk_seal marker is gone while kiosks carry tags: the legacy tagging was refused, so every untagged kiosk reads tampered and is refused as blocked (device_blocked); restart once with FRAUD_LEGACY_TAGGING=1 if this is an upgrade first started without it (then unset it), otherwise restore kiosk_seal from a backup (or rotate each kiosk's key with its genuine key as an admin, then unblock it)",
    });
  }

  /**
   * The workers' legacy tagging refused at this start (WorkerSeal): every worker from before the
   * tags reads tampered, so refused (worker_tampered). Reported, as the kiosks' refusal. Alert on
   * mdai_workers_legacy_tagging_refused.
   */
  private workers() {
    return legacyTaggingCheck('workers', this.workforce, {
      not_allowed:
        'untagged workers on a store with no worker_seal marker and no tagged worker, and FRAUD_LEGACY_TAGGING off: the legacy tagging was refused, so every worker created before the upgrade reads tampered and is refused (worker_tampered: no sync, token, registration or payroll); restart once with FRAUD_LEGACY_TAGGING=1 if this start upgrades a store from a version without worker tags (then unset it), otherwise restore the workers and worker_seal from a backup',
      tagged_rows:
        'the worker_seal marker is gone while workers carry tags: the legacy tagging was refused, so every untagged worker reads tampered and is refused (worker_tampered); restart once with FRAUD_LEGACY_TAGGING=1 if this is an upgrade first started without it (then unset it), otherwise restore worker_seal (and the workers) from a backup',
    });
  }

  /**
   * The sites' or thekedars' legacy tagging refused at this start (SiteSeal, ThekedarSeal): every
   * one from before the tags reads tampered, so refused (site_tampered, thekedar_tampered).
   * Reported, as the workers' refusal: a site refused stops its syncs and payroll, but every
   * replica refuses alike, so a degraded /health would take them all out of rotation (and every
   * other site and route with them) and repair nothing. Alert on
   * mdai_sites_legacy_tagging_refused, mdai_thekedars_legacy_tagging_refused.
   */
  private records(kind: 'site' | 'thekedar') {
    const workforce = this.workforce;
    const source = workforce && { legacySeal: () => workforce.recordsLegacySeal(kind) };
    const refused =
      kind === 'site'
        ? 'every site created before the upgrade reads tampered and is refused (site_tampered: no sync of its packets, no timesheet, payroll or correction)'
        : 'every thekedar created before the upgrade reads tampered and is refused (thekedar_tampered: no signed request, registration or change of its sites)';
    return legacyTaggingCheck(`${kind}s`, source, {
      not_allowed: `untagged ${kind}s on a store with no ${kind}_seal marker and no tagged ${kind}, and FRAUD_LEGACY_TAGGING off: the legacy tagging was refused, so ${refused}; restart once with FRAUD_LEGACY_TAGGING=1 if this start upgrades a store from a version without ${kind} tags (then unset it), otherwise restore the ${kind}s and ${kind}_seal from a backup`,
      tagged_rows: `the ${kind}_seal marker is gone while ${kind}s carry tags: the legacy tagging was refused, so every untagged ${kind} reads tampered and is refused (${kind}_tampered); restart once with FRAUD_LEGACY_TAGGING=1 if this is an upgrade first started without it (then unset it), otherwise restore ${kind}_seal (and the ${kind}s) from a backup`,
    });
  }

  /**
   * Redis answers (every connection in use); with an admin key its `maxmemory-policy` is reported
   * as read at connect (RedisService.evictionPolicy: no CONFIG per probe), with a warning when
   * Redis may evict MDAI's keys (any policy but `noeviction`, with a `maxmemory`): not degraded
   * (every replica shares the Redis, and taking them all out of rotation repairs nothing),
   * `unknown` when CONFIG is refused or not answered within the probe's bound. The whole probe
   * is bounded by REDIS_PROBE_MS.
   */
  private async redisCheck(detailed: boolean) {
    const check = indicator('redis');
    const deadline = Date.now() + REDIS_PROBE_MS;
    try {
      await withTimeout(this.redis.ping(), REDIS_PROBE_MS);
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
    if (!detailed) return check.up();
    const { policy, maxmemory, warning } = await withTimeout(
      this.redis.evictionPolicy(),
      Math.max(0, deadline - Date.now()),
    ).catch((): EvictionPolicy => ({ policy: 'unknown', maxmemory: 'unknown' }));
    return check.up({ maxmemoryPolicy: policy, maxmemory, ...(warning ? { warning } : {}) });
  }

  private async probe(
    key: string,
    ping: () => Promise<void>,
    details: Record<string, string> = {},
  ) {
    const check = indicator(key);
    try {
      await withTimeout(ping(), 2000);
      return check.up(details);
    } catch (error) {
      return check.down({ ...details, message: (error as Error).message });
    }
  }
}

async function uploadsWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new Error(
      `the uploads directory is not writable (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

/**
 * A store's legacy tagging (LegacyTaggingState) as its /health check: up with when and how many
 * rows were tagged as legacy, or with the reason and what to do when this start refused it (up:
 * reported, not degraded; its gauge, legacyTaggingRefusedGauge, pages). The state is a store read, bounded like
 * every read /health makes (a frozen store answers `store` down in time; the state is left out).
 */
async function legacyTaggingCheck(
  key: string,
  source: { legacySeal(): Promise<LegacyTaggingState> } | undefined,
  messages: Record<LegacyTaggingRefusal, string>,
) {
  const check = indicator(key);
  const legacy = source
    ? await withTimeout(
        Promise.resolve().then(() => source.legacySeal()),
        2000,
      ).catch(() => undefined)
    : undefined;
  const seal = {
    ...(legacy?.sealedAt ? { legacySealedAt: legacy.sealedAt.toISOString() } : {}),
    ...(legacy?.count !== undefined ? { legacySealedCount: legacy.count } : {}),
  };
  if (!legacy?.refused) return check.up(seal);
  const reason = legacy.refusedReason ?? 'tagged_rows';
  // reported, not degraded (as the fraud events' refusal): every replica reads the same store,
  // so a /health that took them out of rotation would stop the phones and kiosks enrolled since,
  // and every other route, and repair nothing; the gauge pages
  return check.up({
    ...seal,
    legacySealRefused: true,
    legacySealRefusedReason: reason,
    message: messages[reason],
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
