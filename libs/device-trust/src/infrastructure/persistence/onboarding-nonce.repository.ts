/** Single-use marks of signed onboarding requests (the replay guard). */
export abstract class OnboardingNonceRepository {
  /**
   * Marks `nonce` used until `expiresAt`. True for the first claim; false when it was
   * already claimed (exactly one of concurrent claims wins). Expired marks are purged.
   */
  abstract claim(nonce: string, expiresAt: Date, now: Date): Promise<boolean>;
}
