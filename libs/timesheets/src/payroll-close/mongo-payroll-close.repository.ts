import { Injectable, Logger } from '@nestjs/common';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError, MongoStoreHandle, retagMongoDocument } from '@app/persistence';
import {
  CloseChain,
  CloseHead,
  closeIdOf,
  ClosePlace,
  CloseLink,
  CloseResult,
  CloseRetagOutcome,
  closeRetagOutcome,
  CloseRetagPlan,
  CloseSeal,
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
  /** Its place in the site's chain (absent: a close of an earlier release, not linked yet). */
  @Prop({ type: Number }) seq?: number;
  @Prop({ type: String }) prev?: string;
  @Prop({ type: String, required: true }) tag!: string;
}
export const PayrollCloseSchema = SchemaFactory.createForClass(PayrollCloseDocument);
PayrollCloseSchema.index({ siteId: 1, from: 1 });
// one close a place of a site's chain: of two replicas extending it at once, one insert fails
PayrollCloseSchema.index(
  { siteId: 1, seq: 1 },
  {
    unique: true,
    name: 'payroll_closes_seq',
    partialFilterExpression: { seq: { $exists: true } },
  },
);
// the sites holding closes of an earlier release (no `seq`: indexed as null), for the boot's
// link: a seek of these alone, never a scan of every close (UNLINKED_SITES_PIPELINE)
PayrollCloseSchema.index({ seq: 1, siteId: 1 }, { name: 'payroll_closes_unlinked' });

/**
 * Up to `limit` sites holding closes not linked yet, by site id: the `$match` and `$sort` on
 * `payroll_closes_unlinked` (an index scan of the unlinked closes alone), then one per site.
 * Exported for the schema spec.
 */
export function UNLINKED_SITES_PIPELINE(limit: number): object[] {
  return [
    { $match: { seq: null } },
    { $sort: { seq: 1, siteId: 1 } },
    { $group: { _id: '$siteId' } },
    { $sort: { _id: 1 } },
    { $limit: limit },
  ];
}

@Schema({ collection: 'payroll_close_heads', versionKey: false })
export class PayrollCloseHeadDocument {
  /** The site id. */
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ type: Number, required: true }) seq!: number;
  /** `''` for the head of the empty chain (mongoose's `required` refuses an empty string). */
  @Prop({ type: String }) digest!: string;
  @Prop({ type: String, required: true }) tag!: string;
  /** The digest of its closes' periods and its tag (null: made again by the next read). */
  @Prop({ type: String }) periods?: string | null;
  @Prop({ type: String }) periodsTag?: string | null;
}
export const PayrollCloseHeadSchema = SchemaFactory.createForClass(PayrollCloseHeadDocument);

@Injectable()
export class MongoPayrollCloseRepository extends PayrollCloseRepository {
  /** A replica dying between a close's insert and the head's move leaves the head behind. */
  readonly headMayTrail = true;
  private readonly logger = new Logger(MongoPayrollCloseRepository.name);
  private readonly closes: Model<PayrollCloseDocument>;
  private readonly heads: Model<PayrollCloseHeadDocument>;

  constructor(store: MongoStoreHandle) {
    super();
    this.closes = store.connection.model(PayrollCloseDocument.name, PayrollCloseSchema);
    this.heads = store.connection.model(PayrollCloseHeadDocument.name, PayrollCloseHeadSchema);
  }

  async onModuleInit(): Promise<void> {
    // the unique (site, seq) index must stand before the first close is recorded
    await this.closes.init();
    await this.heads.init();
  }

  async record(
    draft: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>,
    seal: CloseSeal,
  ): Promise<CloseResult> {
    const first = await this.firstOverlapping(draft);
    if (first) return answerOf(draft, first);
    const read = await this.readHead(draft.siteId);
    const made = seal(await this.tip(draft.siteId), read);
    // a site's first close: the head of the empty chain first, so the head is never absent
    // under a close (another replica writing it first: raced)
    if (made.base && !(await this.moveHead(undefined, made.base))) return { status: 'raced' };
    const head = made.base ?? read;
    const close = made.close;
    const id = closeIdOf(close.siteId, close.from);
    try {
      await this.closes.create(toDoc(close));
    } catch (error) {
      // the same site and first day (another replica's close), or the same place of the chain
      if (!isDuplicateKeyError(error)) throw error;
      const other = await this.firstOverlapping(close);
      if (other) return answerOf(close, other);
      return { status: 'raced' };
    }
    // another replica's overlapping close stored at once: the first one (by at, then from)
    // stays, this one is removed (and the head put back if a read rolled it forward onto it)
    const overlaps = await this.overlapping(close.siteId, close.from, close.to);
    const winner = overlaps.sort((a, b) => a.at - b.at || (a.from < b.from ? -1 : 1))[0];
    if (winner && winner.from !== close.from) {
      // already the chain's (a read rolled the head onto it and a close may be linked after it:
      // a replica that stalled past UNCONFIRMED_TIP_MS): removing it would leave its place empty
      // for good; it stays, and the overlap is an operator's to look at
      const now = await this.readHead(close.siteId);
      if (now && now.seq >= close.seq) {
        this.logger.error(
          { siteId: close.siteId, from: close.from, overlaps: winner.from },
          'ALARM: a payroll close overlapping another was kept: the chain had taken it already',
        );
        return { status: 'closed', close };
      }
      await this.closes.deleteOne({ _id: id, tag: close.tag });
      if (head) await this.moveHead(made.head, head);
      return answerOf(close, winner);
    }
    // the head moved from the one read, only: a replica that moved it first wins, unless it
    // moved onto or past this close (a read rolling it forward, or a close linked after it:
    // its place is this close's alone, by the unique index): then it stands
    if (!(await this.moveHead(head, made.head))) {
      const now = await this.readHead(close.siteId);
      if (now && now.seq >= close.seq) return { status: 'closed', close };
      await this.closes.deleteOne({ _id: id, tag: close.tag });
      return { status: 'raced' };
    }
    return { status: 'closed', close };
  }

  async chain(siteId: string): Promise<CloseChain> {
    // the head first (as chainPlaces): a close recorded between the two reads then reads as a
    // head one behind its tip, not as a head ahead of the closes (a false alarm)
    const head = await this.readHead(siteId);
    const docs = await this.closes
      .find({ siteId })
      .sort({ seq: 1, from: 1 })
      .lean<PayrollCloseDocument[]>();
    return { closes: docs.map(fromDoc), ...(head ? { head } : {}) };
  }

  async chainPlaces(
    siteId: string,
  ): Promise<{ places: ClosePlace[]; tip?: PayrollClose; head?: CloseHead }> {
    // the head first: a close recorded meanwhile reads as a head one behind its tip
    const head = await this.readHead(siteId);
    const docs = await this.closes
      .find({ siteId }, { _id: 0, seq: 1, from: 1, to: 1 })
      .sort({ seq: 1 })
      .lean<Array<{ seq?: number; from: string; to: string }>>();
    const tip = await this.tip(siteId);
    return {
      places: docs.map((d) => ({
        seq: typeof d.seq === 'number' ? d.seq : 0,
        from: String(d.from),
        to: String(d.to),
      })),
      ...(tip ? { tip } : {}),
      ...(head ? { head } : {}),
    };
  }

  async closesAfter(siteId: string, seq: number): Promise<PayrollClose[]> {
    const docs = await this.closes
      .find({ siteId, seq: { $gt: seq } })
      .sort({ seq: 1 })
      .lean<PayrollCloseDocument[]>();
    return docs.map(fromDoc);
  }

  async rollHead(was: CloseHead, next: CloseHead): Promise<boolean> {
    return this.moveHead(was, next);
  }

  async setPeriods(head: CloseHead, periods: string, periodsTag: string): Promise<boolean> {
    const { matchedCount } = await this.heads.updateOne(
      { _id: head.siteId, seq: head.seq, digest: head.digest, tag: head.tag },
      { $set: { periods, periodsTag } },
    );
    return matchedCount === 1;
  }

  async unlinkedSiteIds(limit: number): Promise<string[]> {
    const groups = await this.closes
      .aggregate<{ _id: string }>(UNLINKED_SITES_PIPELINE(limit) as never)
      .exec();
    return groups.map((g) => String(g._id));
  }

  async link(siteId: string, link: CloseLink): Promise<boolean> {
    const docs = await this.closes
      .find({ siteId, seq: { $exists: false } })
      .sort({ at: 1, from: 1 })
      .lean<PayrollCloseDocument[]>();
    if (docs.length === 0) return false;
    const read = await this.readHead(siteId);
    const made = link(docs.map(fromDoc), await this.tip(siteId), read);
    // as a first close: the head of the empty chain before the closes are linked
    if (made.base && !(await this.moveHead(undefined, made.base))) return false;
    const head = made.base ?? read;
    for (const c of made.closes) {
      // only while still unlinked and as read: another replica linking it wins, or closing
      // after the tip as read (its place taken: a duplicate key), not linked this time
      try {
        const { matchedCount } = await this.closes.updateOne(
          { _id: closeIdOf(c.siteId, c.from), seq: { $exists: false } },
          { $set: { seq: c.seq, prev: c.prev, tag: c.tag } },
        );
        if (matchedCount !== 1) return false;
      } catch (error) {
        if (isDuplicateKeyError(error)) return false;
        throw error;
      }
    }
    return this.moveHead(head, made.head);
  }

  async retagHeadIds(afterId: string, limit: number): Promise<string[]> {
    const docs = await this.heads
      .find({ _id: { $gt: afterId } }, { _id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Array<{ _id: string }>>();
    return docs.map((d) => String(d._id));
  }

  async retagHead(
    siteId: string,
    plan: (head: CloseHead) => CloseRetagPlan,
  ): Promise<CloseRetagOutcome> {
    let periodsTag: string | null = null;
    const outcome = await retagMongoDocument({
      read: () => this.heads.findById(siteId).lean<PayrollCloseHeadDocument>(),
      retag: (doc) => {
        const made = plan(fromHeadDoc(doc));
        periodsTag = made.periodsTag ?? null;
        return { outcome: closeRetagOutcome(siteId, made), tag: made.tag };
      },
      setTag: async (doc, tag) => {
        // the periods re-tagged with the head, or cleared (the next read's walk makes them again)
        const { matchedCount } = await this.heads.updateOne(
          { _id: doc._id, seq: doc.seq, digest: doc.digest, tag: doc.tag },
          {
            $set: {
              tag,
              periodsTag,
              ...(periodsTag === null ? { periods: null } : {}),
            },
          },
        );
        return matchedCount === 1;
      },
      changed: { id: siteId, result: 'changed' },
    });
    return outcome ?? { id: siteId, result: 'deleted' };
  }

  private async readHead(siteId: string): Promise<CloseHead | undefined> {
    const doc = await this.heads.findById(siteId).lean<PayrollCloseHeadDocument>();
    return doc ? fromHeadDoc(doc) : undefined;
  }

  private async tip(siteId: string): Promise<PayrollClose | undefined> {
    const doc = await this.closes
      .findOne({ siteId, seq: { $exists: true } })
      .sort({ seq: -1 })
      .lean<PayrollCloseDocument>();
    return doc ? fromDoc(doc) : undefined;
  }

  /** Compare-and-set of the site's head from `was` (as read; none: inserted): whether it moved. */
  private async moveHead(was: CloseHead | undefined, next: CloseHead): Promise<boolean> {
    const set = {
      seq: next.seq,
      digest: next.digest,
      tag: next.tag,
      periods: next.periods ?? null,
      periodsTag: next.periodsTag ?? null,
    };
    if (!was) {
      try {
        await this.heads.create({ _id: next.siteId, ...set });
        return true;
      } catch (error) {
        if (isDuplicateKeyError(error)) return false;
        throw error;
      }
    }
    const { matchedCount } = await this.heads.updateOne(
      { _id: was.siteId, seq: was.seq, digest: was.digest, tag: was.tag },
      { $set: set },
    );
    return matchedCount === 1;
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
            seq: doc.seq ?? { $exists: false },
            prev: doc.prev ?? { $exists: false },
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

  private async firstOverlapping(
    close: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>,
  ): Promise<PayrollClose | undefined> {
    return (await this.overlapping(close.siteId, close.from, close.to))[0];
  }
}

function answerOf(
  close: Omit<PayrollClose, 'seq' | 'prev' | 'tag'>,
  stored: PayrollClose,
): CloseResult {
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
    seq: d.seq === undefined || d.seq === null ? 0 : Number(d.seq),
    prev: d.prev === undefined || d.prev === null ? '' : String(d.prev),
    tag: String(d.tag),
  };
}

function toDoc(c: PayrollClose): PayrollCloseDocument {
  return {
    _id: closeIdOf(c.siteId, c.from),
    siteId: c.siteId,
    from: c.from,
    to: c.to,
    at: c.at,
    by: c.by,
    workers: JSON.stringify(c.workers),
    seq: c.seq,
    prev: c.prev,
    tag: c.tag,
  };
}

function fromHeadDoc(d: PayrollCloseHeadDocument): CloseHead {
  return {
    siteId: String(d._id),
    seq: Number(d.seq),
    digest: String(d.digest),
    tag: String(d.tag),
    ...(typeof d.periods === 'string' && typeof d.periodsTag === 'string'
      ? { periods: d.periods, periodsTag: d.periodsTag }
      : {}),
  };
}
