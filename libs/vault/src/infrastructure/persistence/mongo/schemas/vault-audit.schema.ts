import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { presentString } from '@app/persistence';
import { VAULT_ACTIONS, VAULT_RESULTS } from '../../../../domain/vault-audit-record';

/** Strings are `presentString`: an audited refusal may carry an empty file id or purpose. */
@Schema({ collection: 'vault_audit', versionKey: false })
export class VaultAuditDocument {
  @Prop({ type: String, required: true }) _id!: string;
  /** Unique: two concurrent appends after the same head cannot both be inserted. */
  @Prop({ required: true, unique: true }) seq!: number;
  @Prop(presentString('fileId')) fileId!: string;
  @Prop(presentString('actor')) actor!: string;
  @Prop(presentString('role')) role!: string;
  @Prop({ type: String, default: '' }) ip!: string;
  @Prop(presentString('purpose')) purpose!: string;
  /**
   * From the catalogue only (a create of another fails validation): the listing seeks one
   * (action, result) pair of it at a time, so a record outside it would be in no filtered page.
   */
  @Prop({ ...presentString('action'), enum: VAULT_ACTIONS }) action!: string;
  @Prop({ ...presentString('result'), enum: VAULT_RESULTS }) result!: string;
  @Prop({ type: String, default: null }) reason!: string | null;
  @Prop({ required: true }) at!: Date;
  @Prop({ required: true }) prevHash!: string;
  @Prop({ required: true }) recordHash!: string;
  /**
   * The server's store MAC over seq and recordHash (`StoreMac`, 'vault-audit') and its key id;
   * not hashed. Absent on records from before the tags (and on rows the server did not write).
   */
  @Prop({ type: String }) mac?: string;
  @Prop({ type: String }) macKid?: string;
}
export const VaultAuditSchema = SchemaFactory.createForClass(VaultAuditDocument);
// the audit listing's filters, any combination a keyset on seq (as SQLite's migration 3): the
// filters given are equalities on an index's prefix, an action or result not asked for is
// `$in` all its values, which the planner explodes into one scan per value pair merged by seq
VaultAuditSchema.index({ action: 1, result: 1, seq: 1 });
VaultAuditSchema.index({ fileId: 1, action: 1, result: 1, seq: 1 });
VaultAuditSchema.index({ actor: 1, action: 1, result: 1, seq: 1 });
VaultAuditSchema.index({ fileId: 1, actor: 1, action: 1, result: 1, seq: 1 });

/** The indexes of one column and seq an older deployment made, which these replace. */
export const SUPERSEDED_VAULT_AUDIT_INDEXES = [
  'fileId_1_seq_1',
  'actor_1_seq_1',
  'action_1_seq_1',
  'result_1_seq_1',
];
