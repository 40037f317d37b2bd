import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * A sync batch whose entries MongoDB may hold but the sync has not screened and projected yet
 * (`ledger_pending_batches`): written before the batch's first insert (the inserts go one at a
 * time, with no transaction), deleted once the sync has screened and projected them. `until`: the
 * lease of whoever screens them (the writing sync, a retry, the sweep); past it, a retry of the
 * same packets or the sweep takes it over. Not tagged: deleting one outside the server makes
 * its entries read as screened (their retry `duplicate`, as before the markers existed);
 * adding one makes entries screened a second time (more events, no entry changed).
 */
@Schema({ collection: 'ledger_pending_batches', versionKey: false })
export class PendingBatchDocument {
  @Prop({ type: String, required: true }) _id!: string;
  /** The sites of the entries (for an operator reading the collection). */
  @Prop({ type: [String], required: true }) siteIds!: string[];
  /** The entries' keys: packetId `p`, device `d` ('' for an entry no device made). */
  @Prop({ type: [{ p: String, d: String, _id: false }], required: true })
  keys!: { p: string; d: string }[];
  /** When the marker was written. */
  @Prop({ required: true }) at!: Date;
  @Prop({ required: true }) until!: Date;
}
export const PendingBatchSchema = SchemaFactory.createForClass(PendingBatchDocument);
// a retry's lookup of the markers naming the packets it found stored
PendingBatchSchema.index({ 'keys.p': 1 });
// the sweep's read of the markers whose lease ran out, oldest first
PendingBatchSchema.index({ until: 1 });
