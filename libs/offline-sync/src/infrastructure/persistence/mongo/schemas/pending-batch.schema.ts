import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * A sync batch whose entries MongoDB may hold but the sync has not screened and projected yet
 * (`ledger_pending_batches`): written before the batch's first insert (the inserts go one at a
 * time, with no transaction), deleted once its entries are screened and projected. `owner`: the
 * token of whoever holds it (the writing sync, a retry, the sweep), `leased`: when that holder's
 * lease began or was last renewed, by the store's clock (`$currentDate`); PENDING_BATCH_LEASE_MS
 * past it, a retry of the same packets or the sweep takes it over under its own token, and the
 * holder that lost it neither screens nor settles it. Not tagged: deleting one outside the
 * server makes its entries read as screened (their retry `duplicate`, as before the markers
 * existed); adding one makes entries screened a second time (more events, no entry changed).
 */
@Schema({ collection: 'ledger_pending_batches', versionKey: false })
export class PendingBatchDocument {
  @Prop({ type: String, required: true }) _id!: string;
  /** The holder's token (absent on a marker written before the tokens: anyone's to take). */
  @Prop({ type: String }) owner?: string;
  /** The sites of the entries (for an operator reading the collection). */
  @Prop({ type: [String], required: true }) siteIds!: string[];
  /** The entries' keys not screened yet: packetId `p`, device `d` ('' for an entry no device made). */
  @Prop({ type: [{ p: String, d: String, _id: false }], required: true })
  keys!: { p: string; d: string }[];
  /** When the marker was written (the store's clock). */
  @Prop({ required: true }) at!: Date;
  /** When the holder's lease began or was renewed (the store's clock; epoch: released). */
  @Prop() leased?: Date;
  /**
   * The lease's end by the holder's clock: all a marker written before `leased` (2026-12-07)
   * has; on newer ones written beside it for a replica of the release before (never read here).
   */
  @Prop() until?: Date;
  /** Its writer failed: its inserts are over (a key named and not stored never will be). */
  @Prop() ended?: boolean;
}
export const PendingBatchSchema = SchemaFactory.createForClass(PendingBatchDocument);
// a retry's lookup of the markers naming the packets it found stored
PendingBatchSchema.index({ 'keys.p': 1 });
// the sweep's read of the markers whose lease ran out, oldest first
PendingBatchSchema.index({ leased: 1 });
PendingBatchSchema.index({ until: 1 });
