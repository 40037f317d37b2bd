import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'onboarding_nonces', versionKey: false })
export class OnboardingNonceDocument {
  /** The nonce itself: the unique _id is the single-use guard. */
  @Prop({ type: String, required: true }) _id!: string;
  /** Until when the mark holds, on the application's clock (what `claim` decides on). */
  @Prop({ required: true }) expiresAt!: Date;
  /**
   * When the TTL monitor may drop the mark, on the database server's wall clock: the same
   * window as `expiresAt`, started when it was written. A TTL index on `expiresAt` itself
   * would drop marks early whenever the application's clock is behind the server's (a
   * skewed replica, a controllable clock in tests), reopening a replay window.
   */
  @Prop({ required: true }) purgeAt!: Date;
}
export const OnboardingNonceSchema = SchemaFactory.createForClass(OnboardingNonceDocument);
OnboardingNonceSchema.index({ purgeAt: 1 }, { expireAfterSeconds: 0 });
