import { SealedValueRepository } from '@app/vault/keyring/sealed-values';
import { PairingSession, SessionResult } from '../../domain/pairing-session';

/** Pairing sessions; the sealed values are the platform ids. */
export abstract class SessionRepository extends SealedValueRepository {
  abstract create(session: PairingSession): Promise<void>;
  abstract findById(id: string): Promise<PairingSession | undefined>;
  /**
   * Legacy: records the (sealed) platform id and its alias, only if the session holds none (one
   * conditional write: of two writers, on two replicas too, the first stays). true when this
   * call recorded them.
   */
  abstract setPlatformId(
    id: string,
    platformIdSealed: string,
    platformAlias: string,
  ): Promise<boolean>;
  abstract setDevice(id: string, deviceId: string): Promise<void>;
  /**
   * Spends a legacy session's one app use (`at`): true when this call spent it, false when it
   * was spent before (or the session is gone). Kept with the session, where the relay's Redis
   * mark (`mdai:relay:used:<id>:app`) is lost by a Redis that comes back from a snapshot.
   */
  abstract spendAppUse(id: string, at: Date): Promise<boolean>;
  /**
   * open → submitting, only before expiry. Atomic: of concurrent claims exactly one wins, so a
   * session has at most one submission in flight and, once completed, none.
   */
  abstract claimSubmission(id: string, now: Date): Promise<boolean>;
  /** submitting → open after a failed upstream call. */
  abstract releaseSubmission(id: string): Promise<void>;
  /** submitting → completed with the result (and the phone's sealed outcome, kept for it). */
  abstract completeSubmission(
    id: string,
    result: SessionResult,
    at: Date,
    outcomeSealed?: string,
  ): Promise<void>;
  /**
   * Removes the phone's outcome once a phone socket has it. Atomic: of concurrent takes (two
   * replicas) exactly one is true; false when there was none.
   */
  abstract takeOutcome(id: string): Promise<boolean>;
  /**
   * The kept outcomes a phone can still be given (of sessions not expired at `now`) by the key
   * version they are sealed under (GET /api/v5/vault/keys: a version one needs is not droppable;
   * they are never resealed, they live as long as their session).
   */
  abstract countKeptOutcomesByVersion(now: Date): Promise<Record<string, number>>;
  /** Removes the outcomes of sessions that expired before `before`; returns how many. */
  abstract dropExpiredOutcomes(before: Date): Promise<number>;
  abstract attachImage(id: string, fileId: string): Promise<void>;
  /** Deletes sessions that expired before `before`; returns how many. */
  abstract deleteExpired(before: Date): Promise<number>;
}
