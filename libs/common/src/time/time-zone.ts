/**
 * Local-day arithmetic in IANA time zones with the runtime's own ICU data (Intl), so no zone
 * database ships with the app. Formatters are cached per zone (they are expensive to build).
 */
const partsFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Names isValidTimeZone found valid, lower-cased (Intl takes a zone name in any letter case).
 * A runtime's ICU zones do not change while it runs, and building a formatter to ask costs
 * ~0.2 ms: a sync reads its batch's site (`storedTimeZone`) with every batch.
 */
const validZones = new Set<string>();
/**
 * How many names validZones and canonicalCache keep; past it the oldest goes (in insertion
 * order). Before, neither took any more once full: 1000 spellings sent once (the case variants
 * of one zone) left every zone met after them asked again for good.
 */
const ZONE_CACHE_SIZE = 1000;

/** Makes room in `cache` (its oldest entry evicted when it holds ZONE_CACHE_SIZE), then `add`s. */
function remember<K>(cache: Set<K> | Map<K, unknown>, add: () => void): void {
  if (cache.size >= ZONE_CACHE_SIZE) cache.delete(cache.keys().next().value as K);
  add();
}

/** True when `name` is an IANA zone the runtime knows (e.g. `Asia/Kolkata`, `UTC`). */
export function isValidTimeZone(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 64) return false;
  const key = name.toLowerCase();
  if (validZones.has(key)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return false;
  }
  remember(validZones, () => validZones.add(key));
  return true;
}

/**
 * Zone ids that are a trap for a real place: fixed offsets with no daylight saving (`EST`,
 * `MST`, `HST`, `Etc/GMT+5`, whose sign is the POSIX inverse of what most people read) and
 * the old rule-based ids (`EST5EDT`…, `CET`…) that follow one country's rules, not a region's
 * history. `UTC` and its spellings (`Etc/UTC`, `GMT`, `Etc/GMT+0`) are not among them.
 */
const LEGACY_ZONE =
  /^(?:EST|MST|HST|EST5EDT|CST6CDT|MST7MDT|PST8PDT|CET|MET|EET|WET|Etc\/GMT[+-]\d{1,2}|SystemV\/.*|[+-]\d.*)$/i;

/** True for a legacy or fixed-offset zone id other than UTC (`LEGACY_ZONE`). */
export function isLegacyTimeZone(name: string): boolean {
  return LEGACY_ZONE.test(name) && !(isValidTimeZone(name) && resolvedZone(name) === 'UTC');
}

function resolvedZone(name: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
}

/** The zone ICU resolves `name` to, or undefined when it knows no zone of that name. */
function knownZone(name: string): string | undefined {
  try {
    return resolvedZone(name);
  } catch {
    return undefined;
  }
}

/**
 * Current IANA names that the runtime's ICU (CLDR) still lists under their old names
 * (`Asia/Kolkata` resolves to `Asia/Calcutta`, and `Intl.supportedValuesOf` lists only
 * `Asia/Calcutta`): a zone given by its old name or any alias of it is stored under the name
 * here. Node 20's Intl formats with either name (the same ICU zone), so computing with the
 * name stored is exact.
 */
const IANA_RENAMED = [
  'Africa/Asmara',
  'America/Argentina/Buenos_Aires',
  'America/Argentina/Catamarca',
  'America/Argentina/Cordoba',
  'America/Argentina/Jujuy',
  'America/Argentina/Mendoza',
  'America/Atikokan',
  'America/Indiana/Indianapolis',
  'America/Kentucky/Louisville',
  'America/Nuuk',
  'Asia/Ho_Chi_Minh',
  'Asia/Kathmandu',
  'Asia/Kolkata',
  'Asia/Yangon',
  'Atlantic/Faroe',
  'Europe/Kyiv',
  'Pacific/Chuuk',
  'Pacific/Kanton',
  'Pacific/Pohnpei',
];
/** IANA_RENAMED by lower-cased name: such a name is its own canonical spelling. */
const RENAMED_SPELLINGS = new Map(IANA_RENAMED.map((zone) => [zone.toLowerCase(), zone]));
let zoneSpellings: Map<string, string> | undefined;
/** ICU's old name of a renamed zone → its current IANA name (`Asia/Calcutta` → `Asia/Kolkata`). */
let renamedFrom: Map<string, string> | undefined;
/** canonicalTimeZone's answers (a site's zone is canonicalised on every read of the site). */
const canonicalCache = new Map<string, string>();

/**
 * The stored spelling of a valid zone, its current IANA name: its exact IANA spelling when it
 * is a zone's name (`asia/kolkata` → `Asia/Kolkata`), else the zone it is an alias of (`utc`,
 * `Etc/UTC` → `UTC`, `US/Eastern` → `America/New_York`, `Japan` → `Asia/Tokyo`), and a zone ICU
 * still names by its old name under its current one (`Asia/Calcutta` → `Asia/Kolkata`,
 * `Europe/Kiev` → `Europe/Kyiv`, `America/Buenos_Aires` → `America/Argentina/Buenos_Aires`).
 */
export function canonicalTimeZone(name: string): string {
  const known = canonicalCache.get(name);
  if (known !== undefined) return known;
  const resolved = resolvedZone(name);
  // UTC and a renamed zone's current name (the boot's site default, Asia/Kolkata) are spelled
  // without the tables below: no renamed zone resolves to UTC, and a renamed zone the runtime
  // knows (resolvedZone did not throw) is spelled as IANA_RENAMED lists it. Building them asks
  // ICU about every renamed zone (a formatter each, ~10 ms of the boot; docs/benchmarks.md,
  // "bootcpu"), which a name of another zone still does on its first call.
  const quick = resolved === 'UTC' ? 'UTC' : RENAMED_SPELLINGS.get(name.toLowerCase());
  if (quick !== undefined) {
    remember(canonicalCache, () => canonicalCache.set(name, quick));
    return quick;
  }
  if (!zoneSpellings || !renamedFrom) {
    // Intl lists only zones it formats in, so their spellings are taken as listed: a formatter
    // built to check each of its ~420 (as before) cost ~20 MiB of RSS that stayed and ~100 ms
    // of the boot, whose site default zone is the first name read here (docs/benchmarks.md,
    // "bootregress"). Only the renamed zones, which it may not know, are asked one by one.
    zoneSpellings = new Map(Intl.supportedValuesOf('timeZone').map((z) => [z.toLowerCase(), z]));
    renamedFrom = new Map();
    for (const zone of IANA_RENAMED) {
      const current = knownZone(zone);
      if (current === undefined) continue;
      zoneSpellings.set(zone.toLowerCase(), zone);
      renamedFrom.set(current, zone);
    }
  }
  const spelled = resolved === 'UTC' ? 'UTC' : (zoneSpellings.get(name.toLowerCase()) ?? resolved);
  const canonical = renamedFrom.get(spelled) ?? spelled;
  remember(canonicalCache, () => canonicalCache.set(name, canonical));
  return canonical;
}

function partsFormatter(zone: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormatters.set(zone, f);
  }
  return f;
}

/**
 * The day `localDay` answered last, as a day number (whole days of local time since the epoch)
 * and its text: the instants asked one after another mostly fall on one day (a day's punches,
 * a sync batch's 500, an export's rows), and each was a Date and an ISO text (~0.3 µs).
 */
let lastDayNumber = NaN;
let lastDayText = '';
/** Date's range (ms either side of the epoch): beyond it toISOString throws, as it must here. */
const DATE_RANGE_MS = 8.64e15;

/** The local calendar day (`YYYY-MM-DD`) of an instant in a zone. */
export function localDay(at: number | Date, zone: string): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  // whole milliseconds, as Date keeps them (it truncates toward zero): the day number and the
  // text cached for it then agree for a fractional instant before 1970 too
  const local = Math.trunc(ms + zoneOffsetMs(ms, zone));
  const dayNumber = Math.floor(local / 86_400_000);
  if (dayNumber === lastDayNumber && Math.abs(local) <= DATE_RANGE_MS) return lastDayText;
  const text = new Date(local).toISOString().slice(0, 10);
  lastDayNumber = dayNumber;
  lastDayText = text;
  return text;
}

/**
 * Offsets per zone and quarter hour: almost every UTC offset and transition in the zone
 * database falls on a quarter hour, so one Intl lookup serves the whole quarter (timesheets and
 * CSV exports ask for the same few thousand quarters over and over). Not all: local mean times
 * (Monrovia kept −0:44:30 until 00:44:30 UTC on 1972-01-07) and a few modern transitions at
 * hh:01 local (St John's and Goose Bay until 2011, Moncton until 2006, Gaza and Hebron in
 * 2010–11, Casey in 2020–22). A quarter whose offset at its last second differs from its first
 * holds a transition: it is not cached, each instant in it is read exactly.
 */
const offsetCache = new Map<string, Map<number, number>>();
const QUARTER = 900_000;

/** Offset of the zone from UTC at an instant, in milliseconds (east positive, e.g. +19800000). */
export function zoneOffsetMs(at: number, zone: string): number {
  let byQuarter = offsetCache.get(zone);
  if (!byQuarter || byQuarter.size > 200_000) {
    byQuarter = new Map();
    offsetCache.set(zone, byQuarter);
  }
  const quarter = Math.floor(at / QUARTER);
  let offset = byQuarter.get(quarter);
  if (offset === undefined) {
    const start = quarter * QUARTER;
    offset = intlOffsetMs(start, zone);
    if (intlOffsetMs(start + QUARTER - 1000, zone) !== offset) return intlOffsetMs(at, zone);
    byQuarter.set(quarter, offset);
  }
  return offset;
}

function intlOffsetMs(at: number, zone: string): number {
  const p: Record<string, number> = {};
  for (const part of partsFormatter(zone).formatToParts(at)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  // the local year from the UTC one (they differ only across New Year), not Intl's, which
  // counts eras (1 BC is its year 1), and set as a full year (Date.UTC reads 0–99 as 19xx)
  const utc = new Date(at);
  let year = utc.getUTCFullYear();
  if (p.month === 1 && utc.getUTCMonth() === 11) year++;
  else if (p.month === 12 && utc.getUTCMonth() === 0) year--;
  const local = new Date(0);
  local.setUTCFullYear(year, p.month - 1, p.day);
  local.setUTCHours(p.hour, p.minute, p.second, 0);
  return local.getTime() - Math.floor(at / 1000) * 1000;
}

/** The first instant (epoch ms) of a local day in a zone (local midnight, or the first time after a gap). */
export function startOfLocalDay(day: string, zone: string): number {
  const [y, m, d] = day.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d);
  // the offsets half a day either side cover any transition near midnight; the earliest
  // candidate that falls on the day is its start (local midnight, or the end of a DST gap)
  const candidates = [
    wall - zoneOffsetMs(wall - 43_200_000, zone),
    wall - zoneOffsetMs(wall + 43_200_000, zone),
  ]
    .filter((c) => localDay(c, zone) === day)
    .sort((a, b) => a - b);
  return candidates[0] ?? wall - zoneOffsetMs(wall, zone);
}

/** The day after `day` (`YYYY-MM-DD`), calendar arithmetic only. */
export function nextDay(day: string, by = 1): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + by)).toISOString().slice(0, 10);
}

/** Whole calendar days from `from` to `to` (`to` - `from`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * An instant as local ISO-8601 with its offset in the zone, to the second:
 * `2026-03-08T07:58:00-04:00`. A local mean time's offset with seconds (before 1972 in a few
 * zones) is written with them, `1971-05-31T23:35:30-00:44:30`, as ISO 8601 extends hh:mm.
 */
export function localIso(at: number, zone: string): string {
  const offset = zoneOffsetMs(at, zone);
  const wall = new Date(Math.floor(at / 1000) * 1000 + offset).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.round(Math.abs(offset) / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const hhmm = `${two(Math.floor(abs / 3600))}:${two(Math.floor(abs / 60) % 60)}`;
  return `${wall}${sign}${hhmm}${abs % 60 === 0 ? '' : `:${two(abs % 60)}`}`;
}

/**
 * A site's zone as read from the store: in its canonical spelling (sites stored before a rule
 * of canonicalTimeZone existed, such as `Asia/Calcutta` before `Asia/Kolkata` was the stored
 * name, read as the current name; both compute the same local days), or as stored when the
 * runtime does not know it (never hidden behind another name).
 */
export function storedTimeZone(stored: string): string {
  return isValidTimeZone(stored) ? canonicalTimeZone(stored) : stored;
}
