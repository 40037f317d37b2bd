import { OnModuleInit } from '@nestjs/common';
import type { Model } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { OnboardingNonceRepository } from '../../onboarding-nonce.repository';
import { OnboardingNonceDocument, OnboardingNonceSchema } from '../schemas/onboarding-nonce.schema';

/** The unique _id decides (duplicate key → already used); a TTL index drops expired marks. */
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
    try {
      await this.nonces.create({ _id: nonce, expiresAt });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return false;
      throw error;
    }
  }
}
