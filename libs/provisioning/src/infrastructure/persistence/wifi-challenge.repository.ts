import { SealedValue } from '@app/vault/keyring/sealed-values';
import { WifiChallenge } from '../../domain/wifi-challenge';

export abstract class WifiChallengeRepository {
  abstract create(challenge: WifiChallenge): Promise<void>;
  abstract findById(id: string): Promise<WifiChallenge | undefined>;
  /**
   * Marks a pending, unexpired challenge used. Atomic: of many concurrent calls exactly one
   * returns true.
   */
  abstract markUsed(id: string, now: Date): Promise<boolean>;
  /**
   * Counts one wrong answer on a pending challenge and locks it when the count reaches
   * `maxAttempts`, atomically. Returns the record after the change (undefined if unknown).
   */
  abstract recordWrongAnswer(id: string, maxAttempts: number): Promise<WifiChallenge | undefined>;
  /** Deletes challenges that expired before `before`; returns how many. */
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
