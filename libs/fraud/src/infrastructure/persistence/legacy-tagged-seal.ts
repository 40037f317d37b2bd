import { Inject, Injectable, Optional } from '@nestjs/common';
import { legacyTaggingSwitch } from '@app/persistence';
import { StoreMac, StoreMacPurpose } from '@app/tlog';
import { fraudConfig, FraudSettings } from '../../fraud.config';

/** The held key a stored tag verifies under, and the data it covers there. */
export interface Vouched {
  kid: string;
  data: string;
}

/** What `keys:retag` makes of one row (LegacyTaggedSeal.retagRow). */
export interface RowRetag {
  result: 'retagged' | 'current' | 'tampered' | 'suspect';
  /** The other key it was under (retagged), or the excepted key it verifies under (suspect). */
  from?: string;
  /** The new tag (retagged). */
  tag?: string;
}

/**
 * What the seals of rows tagged in two forms share (workers, worker devices, kiosks, fraud
 * events): the current form, and the same data prefixed with `"legacy"` for a row the server
 * tagged once at the upgrade to the tags (`data(legacy)` makes either). It holds the legacy
 * tagging's switch (FRAUD_LEGACY_TAGGING, the fraud tags' rule), finds the form and held key a
 * stored tag verifies in, and plans a row's `keys:retag` (under the current key, in the form it
 * verifies in: legacy stays legacy).
 */
@Injectable()
export abstract class LegacyTaggedSeal {
  /** FRAUD_LEGACY_TAGGING (on without the setting: a tool, a contract spec). */
  readonly legacyTaggingAllowed: boolean;
  /** FRAUD_LEGACY_TAGGING=1 set explicitly: the untagged rows are tagged whatever is tagged. */
  readonly legacyTaggingForced: boolean;

  constructor(
    protected readonly mac: StoreMac,
    @Optional()
    @Inject(fraudConfig.KEY)
    settings?: Pick<FraudSettings, 'legacyTagging' | 'legacyTaggingExplicit'>,
  ) {
    const rule = legacyTaggingSwitch(settings);
    this.legacyTaggingAllowed = rule.legacyTaggingAllowed;
    this.legacyTaggingForced = rule.legacyTaggingForced;
  }

  /** `verified` (the current form verifies under a held key), `legacy`, or `tampered`. */
  protected formIntegrity(
    purpose: StoreMacPurpose,
    data: (legacy: boolean) => string,
    tag: unknown,
  ): 'verified' | 'legacy' | 'tampered' {
    if (this.mac.verify(purpose, data(false), tag)) return 'verified';
    if (this.mac.verify(purpose, data(true), tag)) return 'legacy';
    return 'tampered';
  }

  /** The held key the tag verifies under over `data` (one form), undefined: none. */
  protected vouchedIn(purpose: StoreMacPurpose, data: string, tag: unknown): Vouched | undefined {
    const kid = this.mac.kidOf(purpose, data, tag);
    return kid === undefined ? undefined : { kid, data };
  }

  /** The held key the tag verifies under, and in which form (the current first; undefined: none). */
  protected vouched(
    purpose: StoreMacPurpose,
    data: (legacy: boolean) => string,
    tag: unknown,
  ): (Vouched & { legacy: boolean }) | undefined {
    for (const legacy of [false, true]) {
      const found = this.vouchedIn(purpose, data(legacy), tag);
      if (found) return { ...found, legacy };
    }
    return undefined;
  }

  /**
   * What `keys:retag` makes of one row (`found`: the key and form it verifies in, undefined when
   * no held key vouches for it or a read found it tampered): `tampered` (never re-tagged: that
   * would launder it), `current`, `suspect` when it verifies only under a key of `except` (a
   * leaked key: left as it is), else `retagged` under the current key over the same data.
   */
  protected retagRow(
    purpose: StoreMacPurpose,
    found: Vouched | undefined,
    except: readonly string[] = [],
  ): RowRetag {
    if (!found) return { result: 'tampered' };
    if (found.kid === this.mac.kid) return { result: 'current' };
    if (except.includes(found.kid)) return { result: 'suspect', from: found.kid };
    return { result: 'retagged', from: found.kid, tag: this.mac.mac(purpose, found.data) };
  }
}

/** What `keys:retag` did with one record of a FieldsTaggedSeal (by `id`). */
export interface RecordRetagOutcome {
  id: string;
  /** `changed`: the record changed under every try (the store's, not the seal's). */
  result: 'retagged' | 'current' | 'changed' | 'tampered' | 'suspect';
  /** The key it was under (retagged), or the excepted key it verifies under (suspect). */
  from?: string;
}

/**
 * The hook of a LegacyTaggedSeal of one purpose over one record's fields with no event to bind
 * to (sites, thekedars): `fields` in a fixed order, tagged as `fields` or, for a row from before
 * the tags tagged once at the upgrade, as `["legacy", ...fields]`; checked at every read and
 * re-tagged by `keys:retag` by the base's rule (retagRow).
 */
export abstract class FieldsTaggedSeal<T extends { id: string }> extends LegacyTaggedSeal {
  protected abstract readonly purpose: StoreMacPurpose;

  /** Every field of the record a decision reads, in a fixed order. */
  protected abstract fields(record: T): unknown[];

  /** The record's tag (`legacy`: in the form the legacy tagging writes). */
  tag(record: T, legacy = false): string {
    return this.mac.mac(this.purpose, this.data(record, legacy));
  }

  /** Whether `tag` (as stored: null, absent, anything) vouches for the record as read. */
  integrity(record: T, tag: unknown): 'verified' | 'legacy' | 'tampered' {
    return this.formIntegrity(this.purpose, (legacy) => this.data(record, legacy), tag);
  }

  /** The record as read with `integrity` set. */
  checked<R extends T & { integrity?: 'verified' | 'legacy' | 'tampered' }>(
    record: R,
    tag: unknown,
  ): R {
    record.integrity = this.integrity(record, tag);
    return record;
  }

  /**
   * What `keys:retag` makes of one record as stored (retagRow: `suspect` when it verifies only
   * under a key of `except`); the stores write `tag` when the result is `retagged`.
   */
  retagPlan(record: T, tag: unknown, except: readonly string[] = []): RowRetag {
    const found = this.vouched(this.purpose, (legacy) => this.data(record, legacy), tag);
    return this.retagRow(this.purpose, found, except);
  }

  private data(record: T, legacy: boolean): string {
    const fields = this.fields(record);
    return JSON.stringify(legacy ? ['legacy', ...fields] : fields);
  }
}

/** The outcome `keys:retag` reports of a record's plan (RowRetag) by the record's id. */
export function recordRetagOutcome(id: string, plan: RowRetag): RecordRetagOutcome {
  return { id, result: plan.result, ...(plan.from !== undefined ? { from: plan.from } : {}) };
}
