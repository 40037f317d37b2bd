import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { OnboardingNonceRepository } from '../../onboarding-nonce.repository';
import { OnboardingNonceDocument, OnboardingNonceSchema } from '../schemas/onboarding-nonce.schema';

/**
 * The unique _id decides (duplicate key → already used); a TTL index on `purgeAt` drops
 * marks once their window has passed on the database server's clock.
 */
@Injectable()
export class MongoOnboardingNonceRepository
  extends OnboardingNonceRepository
  implements OnModuleInit
{
  private readonly nonces: Model<OnboardingNonceDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.nonces = store.connection.model(OnboardingNonceDocument.name, OnboardingNonceSchema);
  }

  async onModuleInit(): Promise<void> {
    await this.nonces.init();
  }

  async claim(nonce: string, expiresAt: Date, now: Date): Promise<boolean> {
    // the TTL monitor runs once a minute: an expired mark still present is reclaimed here
    await this.nonces.deleteOne({ _id: nonce, expiresAt: { $lte: now } });
    const window = Math.max(0, expiresAt.getTime() - now.getTime());
    try {
      await this.nonces.create({
        _id: nonce,
        expiresAt,
        // the TTL monitor's clock is the server's wall clock: measure the window on it
        purgeAt: new Date(Date.now() + window),
      });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return false;
      throw error;
    }
  }
}
