import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One offline token this server issued (IssuedTokenRepository). */
@Schema({ collection: 'offline_tokens', versionKey: false })
export class IssuedTokenDocument {
  /** The token's `jti` (a random UUID). */
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) deviceId!: string;
  @Prop({ required: true }) keyId!: string;
  @Prop({ required: true }) issuedAt!: Date;
  @Prop({ required: true }) expiresAt!: Date;
  @Prop({ required: true }) digest!: string;
  /** Until when a sync may present it, on the application's clock. */
  @Prop({ required: true }) keepUntil!: Date;
  /**
   * When the TTL monitor may drop it, on the database server's wall clock: `keepUntil`'s
   * window from the write (a replica whose clock is behind would see records dropped early).
   */
  @Prop({ required: true }) purgeAt!: Date;
  /**
   * Set (true) while no sync presented the token; removed at its first sync. Absent on the
   * records from before it existed, which count as presented (the bound keeps them longest).
   */
  @Prop() unsynced?: boolean;
}
export const IssuedTokenSchema = SchemaFactory.createForClass(IssuedTokenDocument);
// a device's records (the bound on records per device, at each issue)
IssuedTokenSchema.index({ deviceId: 1 });
// the sync's check reads by _id (the jti) with the device and digest: one indexed read
IssuedTokenSchema.index({ purgeAt: 1 }, { expireAfterSeconds: 0 });
// the purge at each issue (records past their window on the application's clock)
IssuedTokenSchema.index({ keepUntil: 1 });

/** The one document that says since when this store records issued tokens. */
@Schema({ collection: 'offline_token_recording', versionKey: false })
export class TokenRecordingDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) since!: Date;
}
export const TokenRecordingSchema = SchemaFactory.createForClass(TokenRecordingDocument);

/** The transition reopened after a restore (one document, `_id` 'reopened'). */
@Schema({ collection: 'offline_token_reopening', versionKey: false })
export class TokenReopeningDocument {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) since!: Date;
  @Prop({ required: true }) openedAt!: Date;
  @Prop({ required: true }) until!: Date;
  @Prop({ required: true }) keyId!: string;
}
export const TokenReopeningSchema = SchemaFactory.createForClass(TokenReopeningDocument);
