import { Injectable } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle, retagMongoDocument } from '@app/persistence';
import {
  closeIdOf,
  CloseResult,
  CloseRetagOutcome,
  closeRetagOutcome,
  CloseRetagPlan,
  PayrollClose,
  PayrollCloseRepository,
  parseWorkers,
} from './payroll-close.repository';

@Schema({ collection: 'payroll_closes', versionKey: false })
export class PayrollCloseDocument {
  /** `<siteId>|<from>`: one close per site and first day. */
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ type: String, required: true }) siteId!: string;
  @Prop({ type: String, required: true }) from!: string;
  @Prop({ type: String, required: true }) to!: string;
  @Prop({ type: Number, required: true }) at!: number;
  @Prop({ type: String, required: true }) by!: string;
  /** The totals per worker as one JSON string, as SQLite stores them (what the tag covers). */
  @Prop({ type: String, required: true }) workers!: string;
  @Prop({ type: String, required: true }) tag!: string;
}
export const PayrollCloseSchema = SchemaFactory.createForClass(PayrollCloseDocument);
PayrollCloseSchema.index({ siteId: 1, from: 1 });

@Injectable()
export class MongoPayrollCloseRepository extends PayrollCloseRepository {
  private readonly closes: Model<PayrollCloseDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.closes = store.connection.model(PayrollCloseDocument.name, PayrollCloseSchema);
  }

  async record(close: PayrollClose): Promise<CloseResult> {
    const first = await this.firstOverlapping(close);
    if (first) return answerOf(close, first);
    try {
      await this.closes.create({
        _id: closeIdOf(close.siteId, close.from),
        siteId: close.siteId,
        from: close.from,
        to: close.to,
        at: close.at,
        by: close.by,
        workers: JSON.stringify(close.workers),
        tag: close.tag,
      });
    } catch (error) {
      // the same site and first day stored meanwhile (another replica)
      if (!isDuplicateKeyError(error)) throw error;
      const other = await this.firstOverlapping(close);
      if (other) return answerOf(close, other);
      throw error;
    }
    // another replica's overlapping close stored at once: the first one (by at, then from)
    // stays, this one is removed
    const overlaps = await this.overlapping(close.siteId, close.from, close.to);
    const winner = overlaps.sort((a, b) => a.at - b.at || (a.from < b.from ? -1 : 1))[0];
    if (winner && winner.from !== close.from) {
      await this.closes.deleteOne({ _id: `${close.siteId}|${close.from}`, tag: close.tag });
      return answerOf(close, winner);
    }
    return { status: 'closed', close };
  }

  async overlapping(siteId: string, from: string, to: string): Promise<PayrollClose[]> {
    const docs = await this.closes
      .find({ siteId, from: { $lte: to }, to: { $gte: from } })
      .sort({ from: 1 })
      .lean<PayrollCloseDocument[]>();
    return docs.map(fromDoc);
  }

  async list(siteId: string, limit: number, before?: string): Promise<PayrollClose[]> {
    const docs = await this.closes
      .find({ siteId, ...(before !== undefined ? { from: { $lt: before } } : {}) })
      .sort({ from: -1 })
      .limit(limit)
      .lean<PayrollCloseDocument[]>();
    return docs.map(fromDoc);
  }

  async retagIds(afterId: string, limit: number): Promise<string[]> {
    const docs = await this.closes
      .find({ _id: { $gt: afterId } }, { _id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Array<{ _id: string }>>();
    return docs.map((d) => String(d._id));
  }

  async retag(
    id: string,
    plan: (close: PayrollClose) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome> {
    // compare-and-set over the document as read (every field, the stored workers' JSON as
    // stored): three tries, as the other tagged records
    const outcome = await retagMongoDocument({
      read: () => this.closes.findById(id).lean<PayrollCloseDocument>(),
      retag: (doc) => {
        const made = plan(fromDoc(doc));
        return { outcome: closeRetagOutcome(id, made), tag: made.tag };
      },
      setTag: async (doc, tag) => {
        const { matchedCount } = await this.closes.updateOne(
          {
            _id: doc._id,
            siteId: doc.siteId,
            from: doc.from,
            to: doc.to,
            at: doc.at,
            by: doc.by,
            workers: doc.workers,
            tag: doc.tag,
          },
          { $set: { tag } },
        );
        return matchedCount === 1;
      },
      changed: { id, result: 'changed' },
    });
    return outcome ?? { id, result: 'deleted' };
  }

  private async firstOverlapping(close: PayrollClose): Promise<PayrollClose | undefined> {
    return (await this.overlapping(close.siteId, close.from, close.to))[0];
  }
}

function answerOf(close: PayrollClose, stored: PayrollClose): CloseResult {
  const same = stored.from === close.from && stored.to === close.to;
  return { status: same ? 'exists' : 'overlaps', close: stored };
}

function fromDoc(d: PayrollCloseDocument): PayrollClose {
  return {
    siteId: String(d.siteId),
    from: String(d.from),
    to: String(d.to),
    at: Number(d.at),
    by: String(d.by),
    workers: parseWorkers(d.workers),
    tag: String(d.tag),
  };
}
