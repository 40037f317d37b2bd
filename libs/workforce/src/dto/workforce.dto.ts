import {
  DevicePageQuery,
  IsTimeZone,
  IsDisplayName,
  DisplayNameLength,
  OBJECT_ID_PATTERN,
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsLatitude,
  IsObject,
  IsLongitude,
  IsNumber,
  IsOmittable,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
  ApiProperty,
  ApiPropertyOptional,
  Type,
  IsFreeText,
  freeTextDescription,
} from '@app/common';

const PHONE = /^\+?[0-9][0-9 -]{5,19}$/;

/** What a phone field takes, beyond PHONE's shape (the service checks it: 400 invalid_phone). */
const PHONE_IN =
  'Stored in E.164. A number without a country code is one of PHONE_DEFAULT_COUNTRY (IN): `098100 00001`, `98100 00001`, `0091 98100 00001` and `+91 98100 00001` are one number. Not a possible number for its country: 400 invalid_phone.';

/** What a phone field shows. */
const PHONE_OUT =
  'E.164 (`+919810000001`); a person stored before phones were normalized (2026-12) shows its number as typed until it is changed';

export class GeoPointDto {
  @ApiProperty({ example: 28.6139, description: 'Degrees, a JSON number (not a string)' })
  @IsNumber({}, { message: 'lat must be a number' })
  @IsLatitude({ message: 'lat must be a number from -90 to 90' })
  lat!: number;
  @ApiProperty({ example: 77.209, description: 'Degrees, a JSON number (not a string)' })
  @IsNumber({}, { message: 'lng must be a number' })
  @IsLongitude({ message: 'lng must be a number from -180 to 180' })
  lng!: number;
}

export class CreateSiteDto {
  @ApiProperty({ example: 'Dwarka Sector 21 tower B' })
  @IsString()
  @IsDisplayName()
  @DisplayNameLength(200)
  name!: string;
  @ApiProperty({ type: GeoPointDto })
  @IsObject({ message: 'geo must be an object {lat, lng}' })
  @ValidateNested()
  @Type(() => GeoPointDto)
  geo!: GeoPointDto;
  @ApiProperty({ example: 150, description: 'Geofence radius in metres' })
  @IsNumber()
  @Min(10)
  @Max(50_000)
  radiusM!: number;
  @ApiPropertyOptional({
    example: 'Asia/Kolkata',
    description:
      "IANA time zone of the site's region: timesheet days are local days there (default SITE_DEFAULT_TIME_ZONE). Stored in its canonical spelling, the current IANA name (`utc` → `UTC`, `US/Eastern` → `America/New_York`, `Asia/Calcutta` → `Asia/Kolkata`, `Europe/Kiev` → `Europe/Kyiv`, as the answer shows). Fixed-offset and legacy ids (`EST`, `MST`, `HST`, `EST5EDT`…, `CET`…, `Etc/GMT+5`) are refused (400 legacy_time_zone). It cannot be changed after creation.",
  })
  @IsOmittable()
  @IsString()
  @IsTimeZone()
  timeZone?: string;
}

/**
 * PATCH /api/v5/sites/:siteId: at least one field. Not `timeZone` (400 time_zone_immutable): it
 * would move every worker-day of the site to other local days.
 */
export class UpdateSiteDto {
  @ApiPropertyOptional({ example: 'Dwarka Sector 21 tower C' })
  @IsOmittable()
  @IsString()
  @IsDisplayName()
  @DisplayNameLength(200)
  name?: string;
  @ApiPropertyOptional({ type: GeoPointDto, description: 'The geofence centre (both lat and lng)' })
  @IsOmittable()
  @IsObject({ message: 'geo must be an object {lat, lng}' })
  @ValidateNested()
  @Type(() => GeoPointDto)
  geo?: GeoPointDto;
  @ApiPropertyOptional({ example: 200, description: 'Geofence radius in metres' })
  @IsOmittable()
  @IsNumber()
  @Min(10)
  @Max(50_000)
  radiusM?: number;
  /** Named only to be refused with its own code (400 time_zone_immutable), not "should not exist". */
  @ApiPropertyOptional({
    description:
      "Refused (400 time_zone_immutable): a site's time zone cannot be changed after creation",
    deprecated: true,
  })
  @IsOmittable()
  timeZone?: unknown;
}

export class SiteIdParam {
  @ApiProperty()
  @Matches(OBJECT_ID_PATTERN, { message: 'siteId must be a 24-hex id' })
  siteId!: string;
}

export class CreateSiteResponse {
  @ApiProperty({ example: '665f1c2e8b3e4a0012345678' }) siteId!: string;
  @ApiProperty({ example: 'Asia/Kolkata' }) timeZone!: string;
}

/** What a thekedar's `siteIds` says, at creation and in a change. */
const THEKEDAR_SITES =
  "The sites the thekedar works on: its signed requests create workers and read timesheets at these only (any other site, an unknown one the same: 403 site_not_allowed). Each must exist (404 site_not_found). Its workers' own sites are theirs, set at their creation.";

export class CreateThekedarDto {
  @ApiProperty({ example: 'Ramesh Kumar' })
  @IsString()
  @IsDisplayName()
  @DisplayNameLength(200)
  name!: string;
  @ApiProperty({ example: '+91 98100 00000', description: PHONE_IN })
  @IsString()
  @Matches(PHONE, { message: 'phone must be 6-20 digits, optionally with +, spaces or dashes' })
  phone!: string;
  @ApiPropertyOptional({
    type: [String],
    example: ['665f1c2e8b3e4a0012345678'],
    description: `${THEKEDAR_SITES} Absent: none yet (an admin names them with PATCH /api/v5/thekedars/:thekedarId).`,
  })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(50)
  @ArrayUnique()
  @Matches(OBJECT_ID_PATTERN, { each: true, message: 'each site id must be a 24-hex id' })
  siteIds?: string[];
}

/** PATCH /api/v5/thekedars/:thekedarId: the thekedar's sites, all of them. */
export class UpdateThekedarDto {
  @ApiProperty({
    type: [String],
    example: ['665f1c2e8b3e4a0012345678'],
    description: `${THEKEDAR_SITES} The list replaces the one before; empty: no site (the thekedar onboards and reads nowhere, its workers stay).`,
  })
  @IsArray()
  @ArrayMaxSize(50)
  @ArrayUnique()
  @Matches(OBJECT_ID_PATTERN, { each: true, message: 'each site id must be a 24-hex id' })
  siteIds!: string[];
}

export class CreateThekedarResponse {
  @ApiProperty() thekedarId!: string;
  @ApiProperty({
    example: 'K7QF-3M9X-PA2D-8RWN',
    description: 'Single use; shown only in this response',
  })
  enrollmentCode!: string;
  @ApiProperty({
    example: '2026-03-08T09:30:00.000Z',
    description: 'Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now)',
  })
  expiresAt!: string;
}

export class CreateWorkerDto {
  @ApiProperty({ example: 'Sita Devi' })
  @IsString()
  @IsDisplayName()
  @DisplayNameLength(200)
  name!: string;
  @ApiProperty({ example: '+91 98100 00001', description: PHONE_IN })
  @IsString()
  @Matches(PHONE, { message: 'phone must be 6-20 digits, optionally with +, spaces or dashes' })
  phone!: string;
  @ApiProperty({ type: [String], description: 'Sites the worker may check in at' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ArrayUnique()
  @Matches(OBJECT_ID_PATTERN, { each: true, message: 'each site id must be a 24-hex id' })
  siteIds!: string[];
}

/** What a worker's `siteIds` shows. */
const SITE_IDS_OUT = 'Sites the worker may check in at';

/** PATCH /api/v5/workers/:workerId: at least one field, each checked as at creation. */
export class UpdateWorkerDto {
  @ApiPropertyOptional({ example: 'Sita Kumari' })
  @IsOmittable()
  @IsString()
  @IsDisplayName()
  @DisplayNameLength(200)
  name?: string;
  @ApiPropertyOptional({ example: '+91 98100 00002', description: PHONE_IN })
  @IsOmittable()
  @IsString()
  @Matches(PHONE, { message: 'phone must be 6-20 digits, optionally with +, spaces or dashes' })
  phone?: string;
  @ApiPropertyOptional({
    type: [String],
    description:
      "The worker's sites from now on (all of them, 1 to 50, as at creation). A site added claims the phone there (409 worker_exists when another worker has it: nothing changed), a site removed releases it. The worker's phones get the new sites in their next offline token (POST /api/v5/device/token); a packet for a removed site is refused (`site_not_allowed`) from now on whatever token carries it, and packets accepted before stay in the ledger and timesheets.",
  })
  @IsOmittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ArrayUnique()
  @Matches(OBJECT_ID_PATTERN, { each: true, message: 'each site id must be a 24-hex id' })
  siteIds?: string[];
}

/** POST /api/v5/workers/:workerId/deactivate and /reactivate. */
export class WorkerStatusChangeDto {
  @ApiProperty({
    example: 'left for another contractor',
    description: freeTextDescription(3, 500),
  })
  @IsString()
  @Length(3, 500)
  @IsFreeText(3)
  reason!: string;
}

export class WorkerEnrollmentCodeResponse {
  @ApiProperty() workerId!: string;
  @ApiProperty({
    example: 'K7QF-3M9X-PA2D-8RWN',
    description:
      "Single use; shown only in this response. The worker's earlier unused codes no longer work.",
  })
  enrollmentCode!: string;
  @ApiProperty({
    example: '2026-03-08T09:30:00.000Z',
    description: 'Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now)',
  })
  expiresAt!: string;
}

export class ThekedarEnrollmentCodeResponse {
  @ApiProperty() thekedarId!: string;
  @ApiProperty({
    example: 'K7QF-3M9X-PA2D-8RWN',
    description:
      "Single use; shown only in this response. The thekedar's earlier unused codes no longer work.",
  })
  enrollmentCode!: string;
  @ApiProperty({
    example: '2026-03-08T09:30:00.000Z',
    description: 'Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now)',
  })
  expiresAt!: string;
}

export class CreateWorkerResponse {
  @ApiProperty() workerId!: string;
  @ApiProperty({ description: 'Single use; shown only in this response' }) enrollmentCode!: string;
  @ApiProperty({
    example: '2026-03-08T09:30:00.000Z',
    description: 'Until when the code can be spent (ENROLLMENT_CODE_TTL_HOURS from now)',
  })
  expiresAt!: string;
  @ApiProperty({ example: 50 }) trustScore!: number;
  @ApiPropertyOptional() trustInheritedUntil?: string;
}

export class WorkforcePageQuery extends DevicePageQuery {
  @ApiPropertyOptional({ description: 'Return records after this id (keyset pagination)' })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'after must be a 24-hex id' })
  after?: string;
}

export class ListWorkersQuery extends WorkforcePageQuery {
  @ApiPropertyOptional({ description: 'Only workers assigned to this site' })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'siteId must be a 24-hex id' })
  siteId?: string;
  @ApiPropertyOptional({
    enum: ['active', 'inactive'],
    description: 'Only workers with this status (inactive: deactivated, they left)',
  })
  @IsOmittable()
  @IsIn(['active', 'inactive'], { message: 'status must be active or inactive' })
  status?: 'active' | 'inactive';
}

export class SiteView {
  @ApiProperty() siteId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: GeoPointDto }) geo!: GeoPointDto;
  @ApiProperty({ description: 'Geofence radius in metres' }) radiusM!: number;
  @ApiPropertyOptional({ example: 'Asia/Kolkata', description: 'IANA time zone of the site' })
  timeZone?: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      "Whether the stored record carries the server's store-MAC tag (SiteSeal): `tampered` (its name, geofence or time zone changed outside the server, the fields shown as stored) is refused wherever a decision reads it (503 site_tampered: syncs of its packets, its timesheets, payroll, CSV exports and corrections; 403 site_tampered: an admin's change of it, a worker or thekedar given it); `legacy` a record from before the tags",
  })
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export class ThekedarView {
  @ApiProperty() thekedarId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: '+919810000001', description: PHONE_OUT }) phone!: string;
  @ApiProperty() trustScore!: number;
  @ApiProperty({
    type: [String],
    description:
      'The sites the thekedar works on (its signed requests reach these only), ascending',
  })
  siteIds!: string[];
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      "Whether the stored record carries the server's store-MAC tag (ThekedarSeal): `tampered` (its sites, phone or trust score changed outside the server, the fields shown as stored) is refused wherever it acts (403 thekedar_tampered: its signed requests, its registration, an admin's change of its sites); `legacy` a record from before the tags",
  })
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export class WorkerView {
  @ApiProperty() workerId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: '+919810000001', description: PHONE_OUT }) phone!: string;
  @ApiProperty({ type: [String], description: SITE_IDS_OUT }) siteIds!: string[];
  @ApiProperty({
    enum: ['active', 'inactive'],
    description:
      'inactive: deactivated (the worker left): its phones get no token and sync nothing (403 worker_inactive), its phone number is free for another worker; its history and timesheets stay',
  })
  status!: 'active' | 'inactive';
  @ApiPropertyOptional({ description: 'When the worker was last deactivated or reactivated' })
  statusChangedAt?: string;
  @ApiProperty() trustScore!: number;
  @ApiProperty({ enum: ['admin', 'thekedar'], description: 'Who created the worker' })
  sponsorKind!: string;
  @ApiPropertyOptional({ description: 'The onboarding thekedar, when sponsorKind is thekedar' })
  thekedarId?: string;
  @ApiPropertyOptional() trustInheritedUntil?: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({
    enum: ['verified', 'legacy', 'tampered'],
    description:
      "Whether the stored record carries the server's store-MAC tag: `tampered` (its name, phone, sites, status, trust score or newest event changed outside the server, the fields shown as stored) is refused wherever the worker is used (403 worker_tampered: syncs, tokens, registrations, admin changes; 503 worker_tampered: payroll and CSV exports of its sites); `legacy` a record from before the tags",
  })
  integrity?: 'verified' | 'legacy' | 'tampered';
}

export class WorkerEventView {
  @ApiProperty({
    enum: ['deactivated', 'reactivated', 'sites_changed', 'phone_changed'],
    description:
      "phone_changed: the worker's phone number changed (where its pay goes), by `actor` at `at`; both numbers masked",
  })
  action!: string;
  @ApiProperty({ example: 'admin:3f2a9c1d0b7e' }) actor!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiPropertyOptional({ type: [String], description: 'sites_changed: the sites after it' })
  siteIds?: string[];
  @ApiPropertyOptional({
    type: [String],
    description:
      'sites_changed: the sites before it (for the first change, those the worker was created with). Absent on a change recorded before this field was kept: the sites before it are not known, and a packet or add_shift dated before it is judged by the sites the token names (a packet) or accepted at any site (add_shift)',
  })
  previousSiteIds?: string[];
  @ApiPropertyOptional({
    example: '+********0002',
    description:
      "phone_changed: the new number, masked (its last 4 digits; the full number is the worker's `phone`)",
  })
  phone?: string;
  @ApiPropertyOptional({
    example: '+********0001',
    description: 'phone_changed: the number before it, masked (its last 4 digits)',
  })
  previousPhone?: string;
  @ApiProperty() at!: string;
}

export class WorkerDetailView extends WorkerView {
  @ApiProperty({
    type: [WorkerEventView],
    description: 'Its status, site and phone changes, oldest first',
  })
  events!: WorkerEventView[];
}

export class ThekedarIdParam {
  @ApiProperty()
  @Matches(OBJECT_ID_PATTERN, { message: 'thekedarId must be a 24-hex id' })
  thekedarId!: string;
}

export class WorkerIdParam {
  @ApiProperty()
  @Matches(OBJECT_ID_PATTERN, { message: 'workerId must be a 24-hex id' })
  workerId!: string;
}
