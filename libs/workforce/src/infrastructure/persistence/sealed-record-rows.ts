import type { Logger } from '@nestjs/common';
import { recordRetagOutcome, RecordRetagOutcome, RowRetag } from '@app/fraud';
import {
  LegacyTaggingRefusal,
  LegacyTaggingResult,
  LegacyTaggingSwitch,
  logLegacyTagging,
} from '@app/persistence';
import type { Site, Thekedar } from '../../domain/workforce';
import { alarmRecordLegacyRefused, SiteSeal, StoredSite, ThekedarSeal } from './site-seal';
import { mappedOrTampered, unlessUnreadable, unreadableSite } from './unreadable-record';
import type { SealedRecordKind } from './workforce.repository';

/** What a store's mapper (WorkforceSqliteMapper, WorkforceMongoMapper) reads of its rows. */
export interface SealedRecordMapper<S, K> {
  /** The stored site as the domain reads it (throws: a row it cannot read). */
  siteToDomain(row: S): Site;
  /** The site's fields as stored, unparsed (what SiteSeal tags; never throws). */
  siteAsStored(row: S): StoredSite;
  /** The stored thekedar as the domain reads it, and what ThekedarSeal tags (throws: unreadable). */
  thekedarToDomain(row: K): Thekedar;
  /** What is known of a thekedar row the mapper cannot read (unreadableThekedar; never throws). */
  thekedarUnreadable(row: K): Thekedar;
}

/**
 * A store's stored sites and thekedars as the domain reads them and as their tags are written:
 * the same for both stores, which only read the rows and write what it returns.
 *
 * - Read: mapped, their tags checked when the store tags them (SiteSeal over the stored fields,
 *   ThekedarSeal over the mapped thekedar); a row the mapper cannot read reads `tampered`
 *   (unreadable-record.ts: its tamper code where a decision reads it, never a 500).
 * - The start's legacy tagging (`legacyTag`) and `keys:retag` (`retag`) of one row: an
 *   unreadable row is left untagged (warned) and reported `tampered`.
 */
export class SealedRecordRows<S extends { tag?: unknown }, K extends { tag?: unknown }> {
  constructor(
    private readonly map: SealedRecordMapper<S, K>,
    private readonly logger: Logger,
    private readonly siteSeal?: SiteSeal,
    private readonly thekedarSeal?: ThekedarSeal,
  ) {}

  /** The seal of `kind` (its legacy tagging's switch), undefined: the store does not tag it. */
  seal(kind: SealedRecordKind): LegacyTaggingSwitch | undefined {
    return kind === 'site' ? this.siteSeal : this.thekedarSeal;
  }

  /** A stored site as the domain reads it: its tag checked when the store tags. */
  site(row: S): Site {
    const site = mappedOrTampered(
      () => this.map.siteToDomain(row),
      () => {
        const stored = this.map.siteAsStored(row);
        return unreadableSite(stored.id, stored.name, stored.createdAt);
      },
    );
    if (!this.siteSeal || site.integrity === 'tampered') return site;
    return { ...site, integrity: this.siteSeal.integrity(this.map.siteAsStored(row), row.tag) };
  }

  /** A stored thekedar as the domain reads it: its tag checked when the store tags. */
  thekedar(row: K): Thekedar {
    const thekedar = mappedOrTampered(
      () => this.map.thekedarToDomain(row),
      () => this.map.thekedarUnreadable(row),
    );
    if (!this.thekedarSeal || thekedar.integrity === 'tampered') return thekedar;
    return this.thekedarSeal.checked(thekedar, row.tag);
  }

  /** The tag a site row is written with (undefined: the store does not tag sites). */
  siteTag(row: S): string | undefined {
    return this.siteSeal?.tag(this.map.siteAsStored(row));
  }

  /** The tag a thekedar is written with (undefined: the store does not tag thekedars). */
  thekedarTag(thekedar: Thekedar): string | undefined {
    return this.thekedarSeal?.tag(thekedar);
  }

  /**
   * The legacy-form tag of an untagged row (the start's legacy tagging; the store tags `kind`),
   * undefined for a row the mapper cannot read: left untagged (warned), it reads tampered.
   */
  legacyTag(kind: SealedRecordKind, row: S & K): string | undefined {
    const tag = unlessUnreadable(() =>
      kind === 'site'
        ? this.siteSeal!.tag(this.map.siteAsStored(row), true)
        : this.thekedarSeal!.tag(this.map.thekedarToDomain(row), true),
    );
    if (tag === undefined) {
      this.logger.warn(
        { id: this.idOf(kind, row) },
        `An untagged ${kind} that cannot be read left untagged (it reads tampered: ${kind}_tampered)`,
      );
    }
    return tag;
  }

  /** The start's legacy tagging of `kind` logged (a refusal's ALARM): the refusal, if any. */
  legacyTagged(
    kind: SealedRecordKind,
    result: LegacyTaggingResult,
  ): LegacyTaggingRefusal | undefined {
    return logLegacyTagging(result, this.logger, {
      counted: `${kind}s`,
      tagged: `${kind === 'site' ? 'Sites' : 'Thekedars'} from before the tags tagged as legacy`,
      alarm: alarmRecordLegacyRefused(kind),
    });
  }

  /**
   * `keys:retag` of one stored row (the store tags `kind`): the plan (the stores write
   * `plan.tag` when it is `retagged`; `except`: leaked keys, a row only they vouch for is
   * `suspect`, not written) and the outcome reported; a row the mapper cannot read is tampered.
   */
  retag(
    kind: SealedRecordKind,
    row: S & K,
    except: readonly string[],
  ): { plan: RowRetag; outcome: RecordRetagOutcome } {
    const plan = unlessUnreadable(() =>
      kind === 'site'
        ? this.siteSeal!.retagPlan(this.map.siteAsStored(row), row.tag, except)
        : this.thekedarSeal!.retagPlan(this.map.thekedarToDomain(row), row.tag, except),
    ) ?? { result: 'tampered' };
    return { plan, outcome: recordRetagOutcome(this.idOf(kind, row), plan) };
  }

  private idOf(kind: SealedRecordKind, row: S & K): string {
    return kind === 'site' ? this.map.siteAsStored(row).id : this.map.thekedarUnreadable(row).id;
  }
}
