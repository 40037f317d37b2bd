import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'onboarding_nonces', versionKey: false })
export class OnboardingNonceDocument {
  /** The nonce itself: the unique _id is the single-use guard. */
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) expiresAt!: Date;
}
export const OnboardingNonceSchema = SchemaFactory.createForClass(OnboardingNonceDocument);
OnboardingNonceSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });
