import type { Logger } from '@nestjs/common';

/** What each store's one-time pass gave a thekedar from before thekedar sites. */
export interface ThekedarSiteGrant {
  thekedarId: string;
  siteIds: string[];
}

/** Thekedars named in one log line, at most (the rest counted). */
const NAMED = 100;

/**
 * The log lines of the pass that gave thekedars from before their sites (SQLite migration 8,
 * MongoDB's boot pass), the same on both stores: a thekedar worked on every site then, and keeps
 * the sites of the workers it onboarded so that today's deployments work on. A site it reached
 * through the gap the sites close is among them: the warning asks for a review. Ids only.
 */
export function reportThekedarSiteGrants(logger: Logger, grants: ThekedarSiteGrant[]): void {
  const granted = grants.filter((g) => g.siteIds.length > 0);
  const none = grants.filter((g) => g.siteIds.length === 0).map((g) => g.thekedarId);
  if (granted.length > 0) {
    logger.warn(
      { thekedars: granted.slice(0, NAMED), more: granted.length > NAMED },
      'Thekedars from before thekedar sites now work on the sites of the workers they onboarded: review them (PATCH /api/v5/thekedars/:thekedarId)',
    );
  }
  if (none.length > 0) {
    logger.warn(
      { thekedarIds: none.slice(0, NAMED), more: none.length > NAMED },
      'Thekedars from before thekedar sites onboarded no worker: they work on no site until an admin names theirs (PATCH /api/v5/thekedars/:thekedarId)',
    );
  }
}
