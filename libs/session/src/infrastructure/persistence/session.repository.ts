import { SealedValue } from '@app/vault/keyring/sealed-values';
import { PairingSession, SessionResult } from '../../domain/pairing-session';

export abstract class SessionRepository {
  abstract create(session: PairingSession): Promise<void>;
  abstract findById(id: string): Promise<PairingSession | undefined>;
  /** Legacy: records the (sealed) platform id and its alias. */
  abstract setPlatformId(
    id: string,
    platformIdSealed: string,
    platformAlias: string,
  ): Promise<void>;
  abstract setDevice(id: string, deviceId: string): Promise<void>;
  /**
   * open → submitting, only before expiry. Atomic: of concurrent claims exactly one wins, so a
   * session has at most one submission in flight and, once completed, none.
   */
  abstract claimSubmission(id: string, now: Date): Promise<boolean>;
  /** submitting → open after a failed upstream call. */
  abstract releaseSubmission(id: string): Promise<void>;
  /** submitting → completed with the result. */
  abstract completeSubmission(id: string, result: SessionResult, at: Date): Promise<void>;
  abstract attachImage(id: string, fileId: string): Promise<void>;
  /** Deletes sessions that expired before `before`; returns how many. */
  abstract deleteExpired(before: Date): Promise<number>;
  /** Sealed values not sealed under `version`, by key (for the reseal-all job). */
  abstract listSealedNotUnder(
    version: string,
    afterKey: string,
    limit: number,
  ): Promise<SealedValue[]>;
  /** Replaces a sealed value only if it is still `expected`. */
  abstract replaceSealed(key: string, expected: string, next: string): Promise<boolean>;
}
