import type { Site, Thekedar } from '../../domain/workforce';

/**
 * Review MED-2: a stored site or thekedar the mapper cannot read (a thekedar's `site_ids` not
 * JSON, a MongoDB site without `geo`) is a row changed outside the server: read as `tampered`
 * (its tamper code where a decision reads it), never a 500, and never in the way of a start.
 */
export function mappedOrTampered<T extends Site | Thekedar>(map: () => T, unreadable: () => T): T {
  try {
    return map();
  } catch {
    return { ...unreadable(), integrity: 'tampered' };
  }
}

/** A site whose stored record could not be read: what is known of it, nothing to decide on. */
export function unreadableSite(id: string, name: unknown, createdAt: unknown): Site {
  return {
    id,
    name: typeof name === 'string' ? name : '',
    geo: { lat: NaN, lng: NaN },
    radiusM: 0,
    createdAt: storedInstant(createdAt),
  };
}

/** A thekedar whose stored record could not be read: no sites, no trust. */
export function unreadableThekedar(
  id: string,
  name: unknown,
  phone: unknown,
  createdAt: unknown,
): Thekedar {
  return {
    id,
    name: typeof name === 'string' ? name : '',
    phone: typeof phone === 'string' ? phone : '',
    trustScore: 0,
    siteIds: [],
    createdAt: storedInstant(createdAt),
  };
}

/** The value `compute` gives, or undefined when the stored record cannot be read to give it. */
export function unlessUnreadable<R>(compute: () => R): R | undefined {
  try {
    return compute();
  } catch {
    return undefined;
  }
}

/** The stored instant, or the epoch when it is none (answers write it as an ISO string). */
function storedInstant(stored: unknown): Date {
  const at =
    stored instanceof Date ? stored : new Date(typeof stored === 'string' ? stored : Number.NaN);
  return Number.isNaN(at.getTime()) ? new Date(0) : at;
}
