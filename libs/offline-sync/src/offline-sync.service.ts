import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import {
  AccessDoc,
  bearerToken,
  Clock,
  CommonError,
  isDomainError,
  jcs,
  STORAGE_UNAVAILABLE_MESSAGE,
  storeFailureOf,
} from '@app/common';
import {
  DeviceTrustService,
  floorScore,
  IssuedTokens,
  OfflineTokenClaims,
  offlineTokenConfig,
  OfflineTokenSettings,
  TokenManager,
  TrustRequestSignals,
  WorkerDevice,
  WorkerDeviceService,
} from '@app/device-trust';
import { WorkerStanding, WorkforceService } from '@app/workforce';
import {
  AttendanceHistory,
  FraudEventInput,
  FraudEventType,
  FraudService,
  PacketObservation,
  PUNCH_REFUSAL_TYPES,
  ScreeningContext,
  SiteGeofence,
} from '@app/fraud';
import {
  AttendanceData,
  AttendanceLog,
  AttendanceMeta,
  isPacketData,
  LedgerEntryData,
  LedgerEntryKey,
  NO_DEVICE,
  PendingLogEntry,
} from './domain/attendance-log';
import {
  AppendResult,
  BatchLease,
  KnownLinks,
  PendingBatch,
} from './infrastructure/persistence/attendance-log.repository';
import { AttendancePayload, SignedPacket } from './domain/attendance-packet';
import { PacketCheck } from './domain/packet-check';

import {
  INVALID_SIGNATURE_DETAIL,
  PacketResult,
  RejectionReason,
  SyncOutcome,
} from './domain/sync-result';
import { LedgerService } from './ledger.service';
import { offlineSyncConfig, OfflineSyncSettings } from './offline-sync.config';
import { OfflineSyncError } from './offline-sync.errors';
import { SyncMetrics } from './offline-sync.metrics';
import { PacketCheckPool } from './packet-check.pool';

type Verdict =
  | {
      kind: 'rejected';
      packetId: string;
      reason: RejectionReason;
      detail: string;
      payload?: AttendancePayload;
      /**
       * The JCS of the link it would be, for a packet whose signature holds and that a later
       * check refused: the same packet already in the ledger is a duplicate all the same.
       */
      dataJcs?: string;
    }
  | { kind: 'committed'; packetId: string; log: AttendanceLog }
  | {
      kind: 'candidate';
      packetId: string;
      payload: AttendancePayload;
      /** The payload's timestamp in ms (from the shape check). */
      atMs: number;
      entry: PendingLogEntry;
    };

/**
 * What `authenticate` and `activeDevice` accept and refuse: the offline token in
 * `Authorization: Bearer`, of a registered device that is not blocked (the sync route's doc).
 */
export const OFFLINE_TOKEN_ACCESS: AccessDoc = {
  credentials: [{ scheme: 'offline-token' }],
  errors: {
    401: ['missing_token'],
    403: [
      'invalid_token',
      'token_expired',
      'unknown_device',
      'device_blocked',
      'worker_inactive',
      'worker_tampered',
    ],
    // the device secret (packet HMACs) is sealed under a master key version this replica lacks
    503: ['key_unavailable'],
  },
};

/**
 * Batch sync of signed offline attendance packets: the token says which device, worker and
 * sites; each packet must carry the device's HMAC over its JCS form and fall inside the time
 * limits. Accepted packets go to the ledger; every rejection becomes a fraud event. The
 * request is scored by DeviceTrustService (the score goes into each link's meta, with
 * `lowTrust: true` below TRUST_LOW_THRESHOLD); accepted packets are screened by the pattern
 * rules (flagged, not rejected); a score below TRUST_AUTO_BLOCK_FLOOR blocks the device (by
 * the request's own headers only when a packet of the batch verified its HMAC and is not in the
 * ledger already: `provesSecret`).
 */
/** Pending batches one sweep screens (`screenPendingBatches`): the next sweep takes more. */
export const PENDING_BATCHES_PER_SWEEP = 50;

/** The `Retry-After` of a sync refused for a tampered site (503 site_tampered). */
export const SITE_TAMPERED_RETRY_SECONDS = 300;

@Injectable()
export class OfflineSyncService {
  private readonly logger = new Logger(OfflineSyncService.name);

  constructor(
    private readonly tokens: TokenManager,
    private readonly issued: IssuedTokens,
    private readonly devices: WorkerDeviceService,
    private readonly ledger: LedgerService,
    private readonly fraud: FraudService,
    private readonly trust: DeviceTrustService,
    private readonly workforce: WorkforceService,
    private readonly clock: Clock,
    private readonly checks: PacketCheckPool,
    private readonly metrics: SyncMetrics,
    @Inject(offlineSyncConfig.KEY) private readonly limits: OfflineSyncSettings,
    @Inject(offlineTokenConfig.KEY) private readonly tokenSettings: OfflineTokenSettings,
  ) {}

  /** SYNC_MAX_PACKETS: the most packets one batch holds (more is 413 `too_many_packets`). */
  get maxPacketsPerBatch(): number {
    return this.limits.maxPacketsPerBatch;
  }

  async sync(
    bearer: string | undefined,
    packets: SignedPacket[],
    request: TrustRequestSignals = {},
    now = this.clock.now(),
    options: { receipts?: boolean } = {},
  ): Promise<SyncOutcome> {
    if (packets.length > this.limits.maxPacketsPerBatch) {
      throw new OfflineSyncError(
        'too_many_packets',
        `A batch holds at most ${this.limits.maxPacketsPerBatch} packets`,
      );
    }
    const { claims, unrecorded } = await this.authenticate(bearer, now);
    const device = unrecorded
      ? await this.adoptedDevice(claims, now)
      : await this.activeDevice(claims);
    if (device.user.kind === 'thekedar') this.refuseThekedar(device);
    // shape and HMAC of every packet, on the worker threads while this thread reads the
    // worker's standing and scores the device (their answer is awaited below, where it was
    // needed: a refusal before it still wins, and what the threads did is then dropped)
    const checking = this.startChecks(device, packets);
    const standing = await this.workerStanding(device);
    const trust = await this.trust.score(device, request, now);
    // the request's own headers may take the device under the floor only when a packet of it
    // proves the device's secret, which only the append tells (a packet this request appended):
    // here the stored score decides, and `unproven` (the headers alone would) is judged again
    // after the append
    // a block the store fails to write answers 503 with nothing stored: the phone retries
    const floor = await this.beforeAppend(device.deviceId, 'the auto-block', () =>
      this.trust.enforceFloor(device, trust, request, now, undefined),
    );
    if (floor === 'blocked') {
      await this.fraud
        .record({
          type: 'device_blocked',
          deviceId: device.deviceId,
          workerId: claims.workerId,
          detail: `sync refused: the device's trust score ${floorScore(trust, false).score} is below the auto-block floor`,
        })
        .catch((err: unknown) =>
          // the block is stored (the score and its factors in the device's block reason): the
          // 403 is the truth, a 503 "nothing was changed" would not be. The device's next sync
          // (refused as blocked) records a device_blocked event of its own ("sync attempted by a
          // blocked device"), not this one's score; a device that never syncs again has none
          // (test/sync-block-store-failure.e2e-spec.ts)
          this.logger.error(
            { deviceId: device.deviceId, err: err instanceof Error ? err.message : String(err) },
            "The auto-block's fraud event not recorded: the sync is refused 403 all the same",
          ),
        );
      throw new OfflineSyncError('device_blocked', 'This device is blocked (trust score too low)');
    }
    // blocked meanwhile by another request deciding the same (on this replica or another):
    // one auto-block, and this is a sync of a blocked device
    if (floor === 'already_blocked') await this.refuseBlocked(device, claims.workerId);
    // one object for the whole batch, frozen: nothing changes a link's meta, and the append
    // writes its JCS once (`metaJcsOfEach` knows the same object) instead of comparing 500 copies
    const meta: AttendanceMeta = Object.freeze({
      isOfflineSync: true,
      syncTimestamp: now.toISOString(),
      deviceTrustScore: trust.score,
      ...(this.trust.isLow(trust) ? { lowTrust: true } : {}),
    });

    // each packet judged in order, with its shape and HMAC checked (started above)
    const checked = await checking();
    const verdicts = packets.map((packet, i) =>
      this.judge(packet, checked[i], claims, standing, meta, now),
    );
    if (
      standing?.inactive &&
      verdicts.every((v) => v.kind === 'rejected' && v.reason === 'worker_inactive')
    ) {
      // nothing recorded while the worker was active: the batch is refused as a whole
      this.logger.log({ deviceId: device.deviceId }, 'Sync refused: worker inactive');
      throw new OfflineSyncError(
        'worker_inactive',
        "This phone's worker was deactivated: packets recorded since are not accepted until an admin reactivates the worker",
      );
    }
    const signed =
      packets.length > 0 &&
      verdicts.every((v) => v.kind === 'rejected' && v.reason === 'invalid_signature');
    if (signed) {
      // every packet of the batch is refused (one 403 for the batch), once its events are
      // recorded: a store that fails to write them answers its 503 (nothing of the batch kept)
      await this.recordRefusedBatch(
        device,
        verdicts.map((v) => this.fraudOf(v, claims)).filter((e) => e !== undefined),
      );
      this.metrics.counted('rejected', packets.length);
      // the events just recorded are part of the history: a device they take under the floor
      // (never by themselves: with its own signed evidence) is blocked now, as the admin's view
      // of its score says, not by its next sync (no packet proved the secret: `false`)
      await this.judgeRefusedBatch(device, request, claims.workerId);
      throw new OfflineSyncError(
        'invalid_signatures',
        'No packet in the batch carries a valid device signature',
      );
    }

    await this.committedAgain(verdicts, claims);

    // a packetId this device has in the ledger already comes back from the append as a
    // duplicate (the unique (packetId, device) index is the one lookup): the same content is a
    // duplicate, other content a conflict. Another device's packet with the same packetId is
    // not looked at: a packetId is unique per device, so no device can take another's ids
    const candidates = verdicts.filter((v) => v.kind === 'candidate');
    // the geofences of the packets' sites, read before the append: a site whose record does not
    // verify (SiteSeal) refuses the batch (503 site_tampered) before anything is stored, since
    // its packets could never be screened afterwards (a retry is a duplicate)
    const geofences = await this.geofences(candidates.map((c) => c.entry.siteId));
    // the signed refusals recorded before, read before the append too: a store that fails here
    // answers its code with nothing stored, where after the append it would be untrue (review R5)
    const refusedBefore = await this.refusedBefore(verdicts, claims);
    const batch = await this.beforeAppend(
      device.deviceId,
      'the ledger append',
      () => this.ledger.appendWithReceipts(candidates.map((c) => c.entry)),
      { mayStorePart: true },
    );
    let screened: { outcome: SyncOutcome; findings: number; fraudEvents: number; fresh: number };
    let held: BatchLease[] = [];
    try {
      // fenced (MongoDB): a pending marker this sync no longer holds (it ran past the lease, and
      // a retry or another replica's sweep took it over) is its taker's to screen, not this one's
      held = await this.ledger.holdBatches(batch.batches);
      screened = await this.screenAppended(
        device,
        claims,
        verdicts,
        batch.results,
        geofences,
        refusedBefore,
        new Set(held),
      );
    } catch (error) {
      // nothing screened: a retry of the same packets (or the sweep) screens them
      await this.ledger.releaseBatches(batch.batches);
      throw error;
    }
    // screened and projected (`appendWithReceipts` handed them to the read models)
    await this.ledger.settleBatches(held).catch((error: unknown) => {
      // left: the sweep screens them again after the lease (their events twice)
      this.logger.warn({ err: error as Error }, 'Pending ledger batch not settled');
    });
    const { outcome } = screened;
    await this.touched(device, now, request.ip);
    if (screened.fraudEvents + screened.findings > 0 || floor === 'unproven') {
      // a fresh instant: the events just recorded are part of the history now
      const fresh = this.clock.now();
      // a packet this request appended proved the secret: its HMAC verified, and the ledger's
      // unique (packetId, device) index gave it to this request. A packet the ledger held (a
      // replay, or the original that won a race with its replay, or one of a batch cut short
      // that this request screened) came back a duplicate, and one refused after its HMAC
      // verified (its time, token window, site or worker) was never stored, so a captured one
      // can be sent again: neither proves anything (review MED)
      await this.judgeAppended(device, request, fresh, screened.fresh > 0);
    }
    this.logger.log(
      {
        deviceId: device.deviceId,
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected: outcome.rejected,
        flagged: screened.findings,
        trustScore: trust.score,
      },
      'Offline batch synced',
    );
    return options.receipts === false
      ? outcome
      : this.ledger.attachReceipts(outcome, batch, device.deviceId);
  }

  /**
   * The answer of each packet once appended (`appended`: the append's results, in the order of
   * the candidates), its rejections recorded as fraud events and the packets it stored screened
   * by the pattern rules. A stored packet of a pending batch (`pendingBatch`: one cut short
   * before its sync screened it, MongoDB) is screened as the fresh one it is to the rules, and
   * answered `accepted` with its seq when it is this packet (its first answer to the phone).
   * A packet whose pending marker this sync does not hold (`held`: taken over past its lease)
   * is answered as stored and left to the marker's taker to screen.
   */
  private async screenAppended(
    device: WorkerDevice,
    claims: OfflineTokenClaims,
    verdicts: Verdict[],
    appended: AppendResult[],
    geofences: Map<string, SiteGeofence>,
    refusedBefore: Set<string>,
    held: Set<BatchLease>,
  ): Promise<{ outcome: SyncOutcome; findings: number; fraudEvents: number; fresh: number }> {
    const results: PacketResult[] = [];
    const fraudEvents: FraudEventInput[] = [];
    const accepted: PacketObservation[] = [];
    // the links this append added, and what the fraud rules see of each: most predecessors the
    // screen asks for are among them (a phone's batch is its worker's latest packets)
    const appendedHere = new AppendedLinks();
    let next = 0;
    let fresh = 0;
    for (const verdict of verdicts) {
      if (verdict.kind === 'candidate') {
        const outcome = appended[next++];
        if (outcome.status === 'appended') fresh++;
        const pending = outcome.status === 'duplicate' && outcome.pendingBatch !== undefined;
        const lease = outcome.status === 'appended' ? outcome.batch : outcome.pendingBatch;
        // screened here unless its pending marker was taken over from this sync
        const mine = lease === undefined || held.has(lease);
        if (pending && this.againstCommitted(verdict, outcome.log).kind !== 'committed') {
          // the stored packet is screened as stored; this one answered as the conflict it is
          const observation = observationOf(outcome.log.data as AttendanceData);
          if (mine) accepted.push(observation);
          appendedHere.add(outcome.log, observation);
        } else if (outcome.status === 'appended' || pending) {
          // the appended link's data is the candidate's, whose timestamp the check already read
          const observation = observationOf(outcome.log.data as AttendanceData, verdict.atMs);
          if (mine) accepted.push(observation);
          appendedHere.add(outcome.log, observation);
          results.push({
            packetId: verdict.packetId,
            status: 'accepted',
            seq: outcome.log.seq,
            recordHash: outcome.log.recordHash,
          });
          continue;
        }
        const raced = this.againstCommitted(verdict, outcome.log);
        if (raced.kind === 'committed') results.push(duplicateOf(raced.log));
        else if (raced.kind === 'rejected') {
          results.push(rejectionOf(raced));
          fraudEvents.push(this.fraudOf(raced, claims)!);
        }
        continue;
      }
      if (verdict.kind === 'committed') {
        results.push(duplicateOf(verdict.log));
        continue;
      }
      results.push(rejectionOf(verdict));
      const event = this.fraudOf(verdict, claims);
      if (!event) continue;
      if (verdict.dataJcs !== undefined) {
        // a signed refusal recorded before (or earlier in this batch) is not recorded again
        const key = refusalKey(event.type, verdict.packetId);
        if (refusedBefore.has(key)) continue;
        refusedBefore.add(key);
      }
      fraudEvents.push(event);
    }
    // decided: the ledger holds the accepted ones whatever happens after this
    const outcome = summarize(results);
    this.metrics.counted('accepted', outcome.accepted);
    this.metrics.counted('duplicate', outcome.duplicates);
    this.metrics.counted('rejected', outcome.rejected);
    const findings = await this.screened(device, fraudEvents, () =>
      this.fraud.evaluate(accepted, this.screeningOf(device, appendedHere, geofences)),
    );
    return { outcome, findings, fraudEvents: fraudEvents.length, fresh };
  }

  /**
   * The pattern rules over packets stored by a sync (`observations`, whose links are
   * `appendedHere`), of `device`: what a sync's answer and the sweep of pending batches both run.
   */
  private screenStored(
    device: WorkerDevice,
    observations: PacketObservation[],
    appendedHere: AppendedLinks,
    geofences: Map<string, SiteGeofence>,
  ) {
    return this.fraud.screen(observations, this.screeningOf(device, appendedHere, geofences));
  }

  /** What the pattern rules read of `device`'s history and the packets' sites. */
  private screeningOf(
    device: WorkerDevice,
    appendedHere: AppendedLinks,
    geofences: Map<string, SiteGeofence>,
  ): ScreeningContext {
    return { history: this.historyFor(device, appendedHere), sites: geofences };
  }

  /**
   * Screens the entries of pending batches whose lease ran out (MongoDB: a sync cut short after
   * some inserts, whose phone did not send the packets again), from the stored links, as the
   * sync would have (`screenStored`, per device), hands them to the read models and settles
   * each marker (deleted, fenced by the sweep's owner token); up to `limit` markers, oldest
   * first. A marker
   * whose screen fails is left to its lease (tried again); one taken over from this sweep before
   * its screen (the sweep ran past the lease) is left to its taker. Returns how many markers
   * were taken. At start-up and periodically (`UnsealedTailSweep`).
   */
  async screenPendingBatches(limit = PENDING_BATCHES_PER_SWEEP): Promise<number> {
    const batches = await this.ledger.staleBatches(limit);
    for (const batch of batches) {
      try {
        const screened = await this.screenPendingBatch(batch);
        if (!screened) continue;
        // the keys screened come off the marker; one not stored yet stays named (its writer may
        // still be inserting it: released, taken again by the next sweep) until its inserts
        // are over, then dropped with the marker
        await this.ledger.settleBatches([
          batch.insertsOver ? batch.lease : { ...batch.lease, keys: screened },
        ]);
      } catch (error) {
        this.logger.error(
          { err: error as Error, batch: batch.lease.id },
          'A pending ledger batch could not be screened (tried again after its lease)',
        );
      }
    }
    return batches.length;
  }

  /**
   * Screens a pending batch's stored packets: the keys it screened (each one stored, and the
   * entries no device made, nothing to screen), or undefined when the sweep no longer holds the
   * marker (nothing screened: its taker's).
   */
  private async screenPendingBatch(batch: PendingBatch): Promise<LedgerEntryKey[] | undefined> {
    const deviceKeys = batch.keys.filter((k) => k.deviceId !== NO_DEVICE);
    const found = await this.ledger.linksOf(deviceKeys);
    const screened = [
      ...batch.keys.filter((k) => k.deviceId === NO_DEVICE),
      ...deviceKeys.filter((_, i) => found[i] !== undefined),
    ];
    const links = found.filter((l): l is AttendanceLog => l !== undefined && isPacketData(l.data));
    const byDevice = new Map<string, AttendanceLog[]>();
    for (const link of links) {
      const deviceId = (link.data as AttendanceData).deviceId;
      byDevice.set(deviceId, [...(byDevice.get(deviceId) ?? []), link]);
    }
    // fenced: right before the screen, the lease renewed (or found taken: the taker's)
    if ((await this.ledger.holdBatches([batch.lease])).length === 0) return undefined;
    for (const [deviceId, deviceLinks] of byDevice) {
      const device = await this.devices.find(deviceId);
      if (!device) {
        this.logger.warn(
          { deviceId, batch: batch.lease.id },
          'Pending batch of a device no longer registered: not screened',
        );
        continue;
      }
      const appendedHere = new AppendedLinks();
      const observations = deviceLinks.map((link) => {
        const observation = observationOf(link.data as AttendanceData);
        appendedHere.add(link, observation);
        return observation;
      });
      const geofences = await this.geofences(deviceLinks.map((l) => l.siteId));
      await this.screenStored(device, observations, appendedHere, geofences);
    }
    await this.ledger.project(links);
    return screened;
  }

  /**
   * Starts the packet checks under the device's secret and returns what awaits them: the
   * checks' answer, or the secret's error (`key_unavailable`) where the secret was read before
   * (right before the checks). Nothing of it is left unhandled when the sync stops earlier.
   */
  private startChecks(device: WorkerDevice, packets: SignedPacket[]): () => Promise<PacketCheck[]> {
    let secret: Buffer;
    try {
      secret = this.devices.secretOf(device);
    } catch (error) {
      return () => {
        throw error;
      };
    }
    const checks = this.checks.check(packets, secret);
    // awaited only if the sync gets that far: a refusal before must not leave it unhandled
    checks.catch(() => undefined);
    return () => checks;
  }

  private async authenticate(
    bearer: string | undefined,
    now: Date,
  ): Promise<{ claims: OfflineTokenClaims; unrecorded?: true }> {
    const token = bearerToken(bearer);
    if (!token)
      throw new OfflineSyncError(
        'missing_token',
        'Authorization: Bearer <offline token> is required',
      );
    const skew = this.tokenSettings.maxClockSkewSeconds;
    let check = this.tokens.verify(token, now, skew);
    if (!check.ok && check.failure === 'expired') {
      // an expired token still carries the packets recorded inside its window, for a grace
      // period; each packet is still held to the token's window (outside_token_window)
      const withinGrace = this.tokens.verify(
        token,
        now,
        skew + this.tokenSettings.tokenGraceSeconds,
      );
      if (!withinGrace.ok) {
        const days = this.tokenSettings.tokenGraceSeconds / 86_400;
        await this.beforeAppend(undefined, 'a refusal', () =>
          this.fraud.record({
            type: 'invalid_token',
            detail: `offline token refused: expired more than ${days} days ago`,
          }),
        );
        throw new OfflineSyncError(
          'token_expired',
          `The offline token expired more than ${days} days ago (OFFLINE_TOKEN_GRACE_DAYS), so packets recorded under it can no longer be synced; refresh the token (POST /api/v5/device/token) before recording more`,
        );
      }
      check = withinGrace;
    }
    // signed by a key of ours is not enough: the token must be one this server issued
    const confirmed = await this.issued.confirm(check);
    if (!confirmed.ok) return this.refuseToken(confirmed.failure);
    return confirmed;
  }

  /** 403 `invalid_token` and its fraud event (naming no device: the token is not ours to trust). */
  private async refuseToken(failure: string): Promise<never> {
    await this.beforeAppend(undefined, 'a refusal', () =>
      this.fraud.record({ type: 'invalid_token', detail: `offline token refused: ${failure}` }),
    );
    throw new OfflineSyncError('invalid_token', `The offline token is not valid (${failure})`);
  }

  /**
   * The device of a token not on record that the reopened window holds (`tokens:reopen`),
   * recorded (adopted) only once the device is found, not blocked, and the token's claims are
   * ones this server issued to it: its worker (the device's person), and sites the person had
   * when the token was issued (a refresh gives the worker's sites then: `siteAt` by the site
   * changes, the worker's sites now when no change tells; a thekedar's phone, the sites it
   * registered with; a worker's phone whose worker record is gone, 403 worker_tampered: the
   * server never deletes a worker). Not the device's registration
   * sites for a worker: a token refreshed after a site change carries the new ones. Anything
   * else is `not_issued`, as if the window did not hold it: the active key alone (the window's
   * risk) mints no record for a device, worker or site of the holder's choosing.
   */
  private async adoptedDevice(claims: OfflineTokenClaims, now: Date): Promise<WorkerDevice> {
    const device = await this.devices.find(claims.deviceId);
    if (!device || device.user.id !== claims.workerId || !(await this.sitesIssued(device, claims)))
      return this.refuseToken('not_issued');
    if (device.isBlocked) await this.refuseBlocked(device, claims.workerId);
    const adopted = await this.beforeAppend(device.deviceId, "the token's adoption", () =>
      this.issued.adopt(claims, now),
    );
    if (!adopted) return this.refuseToken('not_issued');
    return device;
  }

  /** Whether a refresh of `device` could have given the token's sites when it was issued. */
  private async sitesIssued(device: WorkerDevice, claims: OfflineTokenClaims): Promise<boolean> {
    if (device.user.kind !== 'worker')
      return claims.siteIds.every((id) => device.siteIds.includes(id));
    const worker = await this.workforce.findWorker(device.user.id);
    if (!worker) this.refuseMissing(device);
    // its sites are not the server's: no token is adopted on their word
    if (worker.integrity === 'tampered') this.refuseTampered(device);
    const standing = WorkerStanding.of(
      { inactive: false },
      await this.workforce.eventsOf(worker.id),
    );
    const atMs = claims.notBefore.getTime();
    return claims.siteIds.every((id) => standing.siteAt(id, atMs) ?? worker.siteIds.includes(id));
  }

  private async activeDevice(claims: OfflineTokenClaims): Promise<WorkerDevice> {
    const device = await this.devices.find(claims.deviceId);
    if (!device) {
      await this.beforeAppend(claims.deviceId, 'a refusal', () =>
        this.fraud.record({
          type: 'unknown_device',
          deviceId: claims.deviceId,
          workerId: claims.workerId,
          detail: 'token names an unregistered device',
        }),
      );
      throw new OfflineSyncError('unknown_device', 'The device of this token is not registered');
    }
    if (device.isBlocked) await this.refuseBlocked(device, claims.workerId);
    return device;
  }

  /**
   * The standing of the device's worker (WorkerStanding: its status now and its status and
   * site changes: one indexed read of its events, none for most workers), or undefined for a
   * thekedar's phone (refused before, 403 thekedar_device). A worker's phone whose worker record is gone is
   * refused (403 worker_tampered), never judged as a thekedar's.
   */
  private async workerStanding(device: WorkerDevice): Promise<WorkerStanding | undefined> {
    if (device.user.kind !== 'worker') return undefined;
    const worker = await this.workforce.findWorker(device.user.id);
    if (!worker) this.refuseMissing(device);
    // its status, sites or newest event are not the server's: nothing of it is decided on
    if (worker.integrity === 'tampered') this.refuseTampered(device);
    return WorkerStanding.of(
      { inactive: worker.status === 'inactive' },
      await this.workforce.eventsOf(worker.id),
    );
  }

  /**
   * A write of the sync before anything of its batch is stored (a refusal's fraud event, the
   * token's adoption, the pre-batch auto-block, the ledger append itself), whose store failure
   * answers the store's 503 (`storage_unavailable`, or `store_unavailable` for a MongoDB that
   * does not answer; a full disk 507 `storage_full`): nothing was kept, the phone keeps its
   * packets and sends them again. A write the database refused (SQLite's constraint or trigger,
   * MongoDB's write error: `isDatabaseRefusal`) is the store's failure too. The server's own
   * refusals (domain errors) pass as they are, and so does any other error (a bug: a TypeError,
   * `assertKeysOfData`'s refusal), logged with its stack: a 500, never a 503 the phone would
   * answer by sending the same batch forever. `mayStorePart`: a write that a failure may leave
   * partly stored (MongoDB's ledger append), whose store failure does not say nothing was changed.
   */
  private async beforeAppend<T>(
    deviceId: string | undefined,
    what: string,
    write: () => Promise<T>,
    { mayStorePart = false }: { mayStorePart?: boolean } = {},
  ): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isDomainError(error) || error instanceof HttpException) throw error;
      const refused = storeFailureOf(error);
      if (!refused) {
        // not the store's: a bug (a TypeError, a caller's broken entry), answered 500 with its
        // stack logged; a 503 would have the phone send the same batch again forever
        this.logger.error(
          { deviceId, err: error },
          `Failure in ${what} of a sync that is not the store's: the sync answers 500`,
        );
        throw error;
      }
      this.logger.error(
        { deviceId, err: error instanceof Error ? error.message : String(error) },
        `Store failure in ${what} of a sync: the sync answers 503 and the phone sends the batch again`,
      );
      // MongoDB's append inserts one link at a time: a failure after some of them has stored
      // a prefix of the batch (its pending marker has it screened; the retry answers those
      // packets duplicate), so the append's message does not say nothing was changed
      throw mayStorePart
        ? new CommonError(
            refused.code,
            'The server could not store this batch right now; send it again later (packets it did store come back accepted or duplicate).',
          )
        : refused;
    }
  }

  /**
   * Records the fraud events of a batch refused 403 invalid_signatures (all or none). A store
   * that fails to write them answers the store's 503 (`storage_unavailable`, or
   * `store_unavailable` for a MongoDB that does not answer; a full disk 507 `storage_full`),
   * whatever the failure: nothing of the batch was kept, the phone keeps its packets and sends
   * them again, and its retry records the events. It used to be a 500 `internal_error` where
   * the failure carried no storage code (a write refused by the database: SQLite's constraint,
   * MongoDB's write error), after MongoDB had kept the events before the failing one.
   */
  private async recordRefusedBatch(device: WorkerDevice, events: FraudEventInput[]): Promise<void> {
    try {
      await this.fraud.recordAll(events);
    } catch (error) {
      this.logger.error(
        {
          deviceId: device.deviceId,
          err: error instanceof Error ? error.message : String(error),
        },
        'Fraud events of a batch refused for its signatures not recorded: the sync answers 503, nothing of the batch kept',
      );
      throw storeFailure(error);
    }
  }

  /**
   * Records the refusals' fraud events of a batch whose accepted packets are in the ledger
   * already, with the pattern rules' findings over the accepted ones (`evaluate`), in one write
   * (all or none, its minute's budget given back on failure); returns how many findings there
   * were. A store that fails here answers 503 `sync_screen_unfinished`, not the store's code,
   * whose "nothing was changed" would be untrue: the accepted punches are recorded. None of the
   * events is stored then, so the same batch sent again answers the accepted packets
   * `duplicate` and records the refusals once; on SQLite the pattern rules are not run again on
   * packets the ledger holds, on MongoDB the batch's pending marker (released by the failure)
   * has the re-send or the sweep screen them (docs/architecture.md, Storage failures).
   */
  private async screened(
    device: WorkerDevice,
    fraudEvents: FraudEventInput[],
    evaluate: () => Promise<FraudEventInput[]>,
  ): Promise<number> {
    try {
      const findings = await evaluate();
      await this.fraud.recordAll([...fraudEvents, ...findings]);
      return findings.length;
    } catch (error) {
      this.logger.error(
        {
          deviceId: device.deviceId,
          err: error instanceof Error ? error.message : String(error),
        },
        'Fraud events of a sync not recorded after its packets were appended: the sync answers 503 sync_screen_unfinished',
      );
      throw new OfflineSyncError(
        'sync_screen_unfinished',
        "The punches the server accepted are recorded, but the store failed while it recorded the batch's fraud screening. Send the same batch again: the accepted punches come back as duplicates (or accepted: treat both alike) and the refused ones are recorded then.",
      );
    }
  }

  /**
   * The device's `lastSeen` (and IP) after a sync that appended: best effort. Its punches are
   * in the ledger and its events recorded, so a store failure here is logged and the sync
   * answered as it is (an untrue 503 "nothing was changed" or a 500 would have the phone resend
   * what is stored); the next sync touches it again.
   */
  private async touched(device: WorkerDevice, now: Date, ip: string | undefined): Promise<void> {
    try {
      await this.devices.touch(device.deviceId, now, ip);
    } catch (err) {
      this.logger.error(
        { deviceId: device.deviceId, err: err instanceof Error ? err.message : String(err) },
        "Device's last seen not recorded after a sync: the sync is answered all the same",
      );
    }
  }

  /**
   * The floor's judgement after the append (`proven`: a packet this request appended proved the
   * secret, so the request's headers count). Its punches are in the ledger and its events
   * recorded, so a store failure here (the score's read, the block's write) is logged and the
   * sync answered as it is, not a 5xx that has the phone resend what is stored. The block it
   * would have made is not dropped for good: the next sync of the device judges the floor
   * again, before anything of it is stored, from the stored score (the events this sync
   * recorded weigh in it); only the headers of this request, which counted because one of its
   * packets proved the secret, are not judged again.
   */
  private async judgeAppended(
    device: WorkerDevice,
    request: TrustRequestSignals,
    fresh: Date,
    proven: boolean,
  ): Promise<void> {
    try {
      await this.trust.enforceFloor(
        device,
        await this.trust.score(device, request, fresh),
        request,
        fresh,
        proven,
      );
    } catch (err) {
      this.logger.error(
        { deviceId: device.deviceId, err: err instanceof Error ? err.message : String(err) },
        'Floor judgement after a sync appended failed: the sync is answered all the same; the next sync judges the stored score again',
      );
    }
  }

  /**
   * The floor's judgement after a batch refused 403 invalid_signatures (its events recorded): a
   * block it makes is recorded as the pre-batch check's is (a `device_blocked` event naming the
   * device and the score). The batch is refused whatever happens here: a store failure in the
   * judgement (the unblock history, the block itself) is logged, never turned into a 5xx that
   * hides the 403 (review LOW 4); the device's next sync judges it again.
   */
  private async judgeRefusedBatch(
    device: WorkerDevice,
    request: TrustRequestSignals,
    workerId: string,
  ): Promise<void> {
    try {
      const fresh = this.clock.now();
      const trust = await this.trust.score(device, request, fresh);
      const floor = await this.trust.enforceFloor(device, trust, request, fresh, false);
      if (floor !== 'blocked') return;
      await this.fraud.record({
        type: 'device_blocked',
        deviceId: device.deviceId,
        workerId,
        detail: `sync refused (invalid_signatures): the device's trust score ${floorScore(trust, false).score} fell below the auto-block floor`,
      });
    } catch (err) {
      this.logger.error(
        { deviceId: device.deviceId, err: err instanceof Error ? err.message : String(err) },
        'Floor judgement after a batch refused for its signatures failed: the batch is refused (403) all the same',
      );
    }
  }

  /**
   * 403 thekedar_device: a thekedar's phone records no attendance (DESIGN.md §6: a thekedar
   * onboards workers and reads its sites; the packets, timesheets and payroll are the workers').
   * Its token names no site, so each packet used to be refused `site_not_allowed`, a signed
   * fraud event lowering the thekedar device's trust, and so what every worker it onboards next
   * inherits (integrator finding 3). No fraud event: the phone did nothing suspicious.
   */
  private refuseThekedar(device: WorkerDevice): never {
    this.logger.log({ deviceId: device.deviceId }, "Sync refused: a thekedar's phone");
    throw new OfflineSyncError(
      'thekedar_device',
      "This is a thekedar's phone: attendance is recorded by the workers' own phones (a thekedar's phone onboards workers and reads its sites' timesheets with signed requests)",
    );
  }

  /** 403 worker_tampered: the device's worker's record does not verify (WorkerSeal). */
  private refuseTampered(device: WorkerDevice): never {
    this.logger.warn({ deviceId: device.deviceId }, 'Sync refused: worker record tampered');
    throw new OfflineSyncError(
      'worker_tampered',
      "This phone's worker's stored record was changed outside the server: no packet is accepted until an operator restores it",
    );
  }

  /**
   * 403 worker_tampered: the device's worker has no record. The server never deletes a worker,
   * so the row (and with it its status and events) was deleted outside the server: nothing of
   * the phone is judged as if it were a thekedar's.
   */
  private refuseMissing(device: WorkerDevice): never {
    this.logger.error(
      { deviceId: device.deviceId, workerId: device.user.id },
      "ALARM: sync refused: the phone's worker record is missing (deleted outside the server)",
    );
    throw new OfflineSyncError(
      'worker_tampered',
      "This phone's worker's stored record is missing (deleted outside the server): no packet is accepted until an operator restores it",
    );
  }

  private async refuseBlocked(device: WorkerDevice, workerId: string): Promise<never> {
    await this.beforeAppend(device.deviceId, 'a refusal', () =>
      this.fraud.record({
        type: 'device_blocked',
        deviceId: device.deviceId,
        workerId,
        detail: 'sync attempted by a blocked device',
      }),
    );
    throw new OfflineSyncError('device_blocked', 'This device is blocked');
  }

  /**
   * Everything that can be decided about one packet without the ledger, in this order: shape,
   * device, HMAC over the JCS payload, worker, site (the token's, and the worker's `sites` now),
   * the time windows. `check` is the packet's shape and HMAC (`checkPackets`, computed before,
   * possibly on another thread).
   */
  private judge(
    packet: SignedPacket,
    check: PacketCheck,
    claims: OfflineTokenClaims,
    standing: WorkerStanding | undefined,
    meta: AttendanceMeta,
    now: Date,
  ): Verdict {
    if (!check.ok) {
      const rawId = (packet?.payload as { packetId?: unknown } | undefined)?.packetId;
      return {
        kind: 'rejected',
        packetId: typeof rawId === 'string' ? rawId.slice(0, 64) : '',
        reason: 'malformed_packet',
        detail: check.detail,
      };
    }
    // the shape check passed: the payload is an AttendancePayload, kept exactly as signed
    const p = packet.payload as AttendancePayload;
    if (p.deviceId !== claims.deviceId)
      return rejectedAs(p, 'device_mismatch', 'packet deviceId is not the token device');
    if (!check.signatureValid)
      return rejectedAs(p, 'invalid_signature', 'HMAC over the JCS payload does not match');
    if (p.workerId !== claims.workerId)
      return rejectedAs(
        p,
        'worker_mismatch',
        'packet workerId is not the token worker',
        check.dataJcs,
      );
    if (!claims.siteIds.includes(p.siteId))
      return rejectedAs(p, 'site_not_allowed', 'the token does not allow this site', check.dataJcs);
    const at = check.atMs;
    // the worker's standing when the packet was recorded (an offline phone syncs late)
    if (standing && !standing.activeAt(at))
      return rejectedAs(
        p,
        'worker_inactive',
        'the worker was deactivated before this packet',
        check.dataJcs,
      );
    if (standing && !standing.hadSite(p.siteId, at))
      return rejectedAs(
        p,
        'site_not_allowed',
        'the worker was not assigned to this site when this packet was recorded',
        check.dataJcs,
      );
    const skewMs = this.tokenSettings.maxClockSkewSeconds * 1000;
    if (at > now.getTime() + skewMs)
      return rejectedAs(
        p,
        'timestamp_in_future',
        'timestamp is ahead of server time beyond the allowed skew',
        check.dataJcs,
      );
    if (at < now.getTime() - this.limits.maxOfflineAgeSeconds * 1000)
      return rejectedAs(
        p,
        'timestamp_too_old',
        'timestamp is older than the offline limit',
        check.dataJcs,
      );
    if (at < claims.notBefore.getTime() - skewMs || at > claims.expiresAt.getTime())
      return rejectedAs(
        p,
        'outside_token_window',
        'timestamp is outside the token validity window',
        check.dataJcs,
      );
    // member by member in the stored order (JCS's, as `check.dataJcs` and a link read back
    // have them), not `{ ...p, geo: { ...p.geo }, signature }`: on Node 20 a spread followed by
    // more members takes V8's slow path (~1 µs a packet). The shape check allowed exactly
    // these members
    const data: AttendanceData = {
      deviceId: p.deviceId,
      geo: { accuracyM: p.geo.accuracyM, lat: p.geo.lat, lng: p.geo.lng },
      packetId: p.packetId,
      signature: packet.signature,
      siteId: p.siteId,
      timestamp: p.timestamp,
      type: p.type,
      workerId: p.workerId,
    };
    return {
      kind: 'candidate',
      packetId: p.packetId,
      payload: p,
      atMs: at,
      entry: {
        siteId: p.siteId,
        packetId: p.packetId,
        data,
        meta,
        dataJcs: check.dataJcs,
      },
    };
  }

  /**
   * A packet refused by a check after its signature (its token's window, its time, its site or
   * worker standing now) that is already in the ledger, the same content under the same device
   * and packetId, is a duplicate, as docs/phone-client.md §2 says a re-sent packet is: a packet
   * accepted once and sent again after the phone refreshed its token is no fraud. One read of
   * the ledger, for such refusals only: every check still runs on every new packet.
   */
  private async committedAgain(verdicts: Verdict[], claims: OfflineTokenClaims): Promise<void> {
    const again: number[] = [];
    verdicts.forEach((v, i) => {
      if (v.kind === 'rejected' && v.dataJcs !== undefined) again.push(i);
    });
    if (again.length === 0) return;
    const links = await this.ledger.linksOf(
      again.map((i) => ({ deviceId: claims.deviceId, packetId: verdicts[i].packetId })),
    );
    again.forEach((i, k) => {
      const link = links[k];
      const verdict = verdicts[i];
      if (link && verdict.kind === 'rejected' && jcs(link.data) === verdict.dataJcs)
        verdicts[i] = { kind: 'committed', packetId: verdict.packetId, log: link };
    });
  }

  /**
   * The refusals after a verified HMAC (`dataJcs`; not in the ledger, `committedAgain` ran) whose
   * fraud event this device has already: the same packetId and type, in a row the server tagged
   * (`verified`: a row written outside the server suppresses nothing). Such a packet is never
   * stored, so whoever captured it can send it again under the phone's token as often as they
   * like: its refusal is recorded once, not once a replay (review MED: each replay weighed on the
   * phone's trust like the first). One read, for such refusals only: this device's events
   * of those packets, one seek each in the (device, packet, type) index.
   */
  private async refusedBefore(
    verdicts: Verdict[],
    claims: OfflineTokenClaims,
  ): Promise<Set<string>> {
    const packetIds = verdicts
      .filter((v) => v.kind === 'rejected' && v.dataJcs !== undefined)
      .map((v) => v.packetId);
    if (packetIds.length === 0) return new Set();
    // this device's rows only, one indexed seek per packet (fraud_events_device_packet)
    const events = await this.fraud.ofDevicePackets(claims.deviceId, packetIds);
    return new Set(
      events.filter((e) => e.integrity === 'verified').map((e) => refusalKey(e.type, e.packetId!)),
    );
  }

  /**
   * A packetId this device has in the ledger already: the same packet again is a duplicate;
   * different content is a conflict (filed under this device, which sent both).
   */
  private againstCommitted(
    candidate: Extract<Verdict, { kind: 'candidate' }>,
    stored: AttendanceLog | undefined,
  ): Verdict {
    if (!stored) return candidate;
    if (jcs(stored.data) === (candidate.entry.dataJcs ?? jcs(candidate.entry.data)))
      return { kind: 'committed', packetId: candidate.packetId, log: stored };
    return {
      kind: 'rejected',
      packetId: candidate.packetId,
      reason: 'packet_id_conflict',
      detail: "packetId is already in the ledger with other content (this device's)",
      payload: candidate.payload,
    };
  }

  /**
   * What the rules see of the past: the ledger (through LedgerService) and the phone's siblings.
   * `appended`: the links this sync just added, which the ledger answers from without reading
   * them again, seen by the rules as the very observations screened.
   */
  private historyFor(device: WorkerDevice, appended: AppendedLinks): AttendanceHistory {
    let siblings: Promise<string[]> | undefined;
    let established: Promise<string> | undefined;
    return {
      // one batched lookup (FraudService asks once per screening and keeps the answers)
      previousOfEach: async (packets) =>
        (
          await this.ledger.previousDataOfWorkers(
            packets.map((p) => ({ workerId: p.workerId, at: p.timestamp, packetId: p.packetId })),
            appended,
          )
        )
          // the worker index holds packets only (other entry kinds have no worker time)
          .map((data) =>
            data && isPacketData(data)
              ? (appended.observationOf(data) ?? observationOf(data))
              : undefined,
          ),
      workersOnDevice: async (deviceId, from, to) => {
        const ids =
          deviceId === device.deviceId
            ? await (siblings ??= this.devices.siblingsOf(device))
            : [deviceId];
        return this.ledger.workersOfDevices(ids, from, to, appended);
      },
      establishedDeviceOf: async (deviceId) =>
        deviceId === device.deviceId
          ? (established ??= this.devices.establishedOf(device))
          : deviceId,
    };
  }

  private async geofences(siteIds: string[]): Promise<Map<string, SiteGeofence>> {
    const ids = [...new Set(siteIds)];
    if (ids.length === 0) return new Map();
    const sites = await this.workforce.findSites(ids);
    const tampered = sites.filter((s) => s.integrity === 'tampered').map((s) => s.id);
    if (tampered.length > 0) {
      this.logger.error(
        { siteIds: tampered },
        'ALARM: sync refused: site record changed outside the server (geofence or time zone tag does not verify)',
      );
      const error = new OfflineSyncError(
        'site_tampered',
        'A site of this batch has a stored record changed outside the server (its geofence cannot be trusted): nothing is stored until an operator restores it; keep the packets and retry',
        tampered.sort().map((id) => ({ field: 'siteId', message: id })),
      );
      // an operator's restore from a backup: not soon (review L1: the 503 said no when)
      error.retryAfterSeconds = SITE_TAMPERED_RETRY_SECONDS;
      throw error;
    }
    return new Map(sites.map((s) => [s.id, { siteId: s.id, geo: s.geo, radiusM: s.radiusM }]));
  }

  /**
   * A rejection as a fraud event, filed under the token's device and worker (who really sent
   * it); what the packet claimed, when it differs, is in the detail.
   */
  /** The fraud event of a rejection; none for a worker who left (not a fraud). */
  private fraudOf(verdict: Verdict, claims: OfflineTokenClaims): FraudEventInput | undefined {
    if (verdict.kind !== 'rejected' || verdict.reason === 'worker_inactive') return undefined;
    const claimed: string[] = [];
    const p = verdict.payload;
    if (p && p.workerId !== claims.workerId) claimed.push(`workerId ${clip(p.workerId)}`);
    if (p && p.deviceId !== claims.deviceId) claimed.push(`deviceId ${clip(p.deviceId)}`);
    const type = verdict.reason as FraudEventType;
    // an authentic punch (its HMAC verified, the token's worker) refused for its site or time:
    // the event keeps what the punch was, for the payroll (PUNCH_REFUSAL_TYPES)
    const authentic =
      p !== undefined &&
      verdict.dataJcs !== undefined &&
      claimed.length === 0 &&
      PUNCH_REFUSAL_TYPES.has(type);
    return {
      type,
      deviceId: claims.deviceId,
      workerId: claims.workerId,
      siteId: p?.siteId,
      packetId: verdict.packetId || undefined,
      detail:
        claimed.length > 0
          ? `${verdict.detail}; packet claimed ${claimed.join(', ')}`
          : verdict.detail,
      ...(authentic ? { punch: { type: p.type, at: new Date(p.timestamp) } } : {}),
    };
  }
}

/** A refusal's key in `refusedBefore`: its fraud event's type and the packet's id. */
function refusalKey(type: string, packetId: string): string {
  return `${type}\u0000${packetId}`;
}

function clip(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}

/**
 * A rejected packet's result: with the detail of a rejection caused by the packet's own form
 * (the shape check's words, which name what is wrong and never echo a value); for a signature
 * that does not verify only that, nothing that helps forge one.
 */
function rejectionOf(verdict: Extract<Verdict, { kind: 'rejected' }>): PacketResult {
  const result: PacketResult = {
    packetId: verdict.packetId,
    status: 'rejected',
    reason: verdict.reason,
  };
  if (verdict.reason === 'malformed_packet') result.detail = verdict.detail;
  else if (verdict.reason === 'invalid_signature') result.detail = INVALID_SIGNATURE_DETAIL;
  return result;
}

/** `dataJcs`: given for a packet whose signature holds (see the verdict's `dataJcs`). */
function rejectedAs(
  p: AttendancePayload,
  reason: RejectionReason,
  detail: string,
  dataJcs?: string,
): Verdict {
  return { kind: 'rejected', packetId: p.packetId, reason, detail, payload: p, dataJcs };
}

/** `atMs`: `data.timestamp` already read as ms (it is read here when not given). */
function observationOf(data: AttendanceData, atMs = Date.parse(data.timestamp)): PacketObservation {
  return {
    packetId: data.packetId,
    deviceId: data.deviceId,
    workerId: data.workerId,
    siteId: data.siteId,
    type: data.type,
    timestamp: new Date(atMs),
    geo: { ...data.geo },
  };
}

/**
 * The links one sync appended (`KnownLinks` for the ledger's predecessor lookup), each with the
 * observation the fraud rules screened it as: a predecessor among them is that observation
 * again, not one built anew from the same data.
 */
class AppendedLinks implements KnownLinks {
  private readonly sites = new Map<string, Map<number, AttendanceData>>();
  private readonly observations = new Map<AttendanceData, PacketObservation>();

  add(log: AttendanceLog, observation: PacketObservation): void {
    const data = log.data as AttendanceData;
    let site = this.sites.get(log.siteId);
    if (!site) this.sites.set(log.siteId, (site = new Map<number, AttendanceData>()));
    site.set(log.seq, data);
    this.observations.set(data, observation);
  }

  dataAt(siteId: string, seq: number): AttendanceData | undefined {
    return this.sites.get(siteId)?.get(seq);
  }

  bySite(): ReadonlyMap<string, ReadonlyMap<number, AttendanceData>> {
    return this.sites;
  }

  atMsOf(data: LedgerEntryData): number | undefined {
    return this.observations.get(data as AttendanceData)?.timestamp.getTime();
  }

  /** The observation of one of these links' data (the very object `dataAt` answered). */
  observationOf(data: LedgerEntryData): PacketObservation | undefined {
    return this.observations.get(data as AttendanceData);
  }
}

function duplicateOf(log: AttendanceLog): PacketResult {
  return {
    packetId: log.data.packetId,
    status: 'duplicate',
    seq: log.seq,
    recordHash: log.recordHash,
  };
}

function summarize(results: PacketResult[]): SyncOutcome {
  return {
    results,
    accepted: results.filter((r) => r.status === 'accepted').length,
    duplicates: results.filter((r) => r.status === 'duplicate').length,
    rejected: results.filter((r) => r.status === 'rejected').length,
  };
}

/** The store's answer to a failed write of a sync with nothing kept (`recordRefusedBatch`). */
function storeFailure(error: unknown): CommonError {
  return (
    storeFailureOf(error) ?? new CommonError('storage_unavailable', STORAGE_UNAVAILABLE_MESSAGE)
  );
}
