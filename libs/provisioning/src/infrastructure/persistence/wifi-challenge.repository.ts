import { SealedValueRepository } from '@app/vault/keyring/sealed-values';
import { WifiChallenge } from '../../domain/wifi-challenge';

/** Wi-Fi challenges; the sealed values are the Wi-Fi passwords. */
export abstract class WifiChallengeRepository extends SealedValueRepository {
  abstract create(challenge: WifiChallenge): Promise<void>;
  abstract findById(id: string): Promise<WifiChallenge | undefined>;
  /**
   * Marks a pending, unexpired challenge used. Atomic: of many concurrent calls exactly one
   * returns true.
   */
  abstract markUsed(id: string, now: Date): Promise<boolean>;
  /**
   * Gives back a challenge this server's `markUsed(id, usedAt)` spent but released nothing for
   * (the kiosk's re-read after it failed): pending again, only while it is still the one that
   * mark left (used at `usedAt`). True when it was given back.
   */
  abstract unmarkUsed(id: string, usedAt: Date): Promise<boolean>;
  /**
   * Counts one wrong answer on a pending challenge and locks it when the count reaches
   * `maxAttempts`, atomically. Returns the record after the change (undefined if unknown).
   */
  abstract recordWrongAnswer(id: string, maxAttempts: number): Promise<WifiChallenge | undefined>;
  /** Deletes challenges that expired before `before`; returns how many. */
  abstract deleteExpired(before: Date): Promise<number>;
}
