import {
  OBJECT_ID_PATTERN,
  PageLimit,
  IsIn,
  Length,
  Matches,
  IsFreeText,
  freeTextDescription,
  IsInstant,
  IsOmittable,
  NotBefore,
  IsString,
  MaxLength,
  ApiProperty,
  ApiPropertyOptional,
} from '@app/common';
import {
  FRAUD_EVENT_TYPES,
  FRAUD_INTEGRITY_STATES,
  FRAUD_REVIEW_DECISIONS,
  FRAUD_REVIEW_STATES,
  FraudEventType,
  FraudReviewDecision,
  FraudReviewState,
} from '../domain/fraud-event';

export class ListFraudEventsQuery {
  @ApiPropertyOptional({ enum: FRAUD_EVENT_TYPES })
  @IsOmittable()
  @IsIn(FRAUD_EVENT_TYPES)
  type?: FraudEventType;

  @ApiPropertyOptional({ description: "Only this phone's events (a worker device's id)" })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'deviceId must be a 24-hex id' })
  deviceId?: string;

  @ApiPropertyOptional({ description: "Only this worker's events" })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'workerId must be a 24-hex id' })
  workerId?: string;

  @ApiPropertyOptional({ description: "Only this site's events" })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'siteId must be a 24-hex id' })
  siteId?: string;

  @ApiPropertyOptional({
    example: '2026-03-01T00:00:00Z',
    description:
      'Inclusive. A day YYYY-MM-DD (its midnight UTC) or an ISO-8601 date-time with a zone (Z or ±hh:mm)',
  })
  @IsOmittable()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({
    example: '2026-03-31T23:59:59Z',
    description:
      'Inclusive. A day YYYY-MM-DD is that whole day, to its last millisecond UTC (from=2026-03-01&to=2026-03-01 is all of 1 March), or an ISO-8601 date-time with a zone; before `from` → 400 invalid_period',
  })
  @IsOmittable()
  @IsInstant()
  @NotBefore('from')
  to?: string;

  @ApiPropertyOptional({
    enum: FRAUD_REVIEW_STATES,
    description: 'unreviewed: no review yet; dismissed or confirmed: the latest review decided so',
  })
  @IsOmittable()
  @IsIn(FRAUD_REVIEW_STATES)
  review?: FraudReviewState;

  @ApiPropertyOptional({
    description: 'Opaque cursor from the x-next-cursor header of the previous page',
  })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @PageLimit()
  limit?: number;
}

export class FraudEventIdParam {
  @ApiProperty()
  @IsString()
  @Matches(OBJECT_ID_PATTERN, { message: 'eventId must be a 24-hex id' })
  eventId!: string;
}

export class ReviewFraudEventDto {
  @ApiProperty({
    enum: FRAUD_REVIEW_DECISIONS,
    description:
      "dismissed: a false positive, no longer weighing on the device's trust score; confirmed: it stays",
  })
  @IsIn(FRAUD_REVIEW_DECISIONS)
  decision!: FraudReviewDecision;

  @ApiProperty({
    example: 'GPS fix jumped while indoors; the worker was on site',
    maxLength: 500,
    description: freeTextDescription(1, 500),
  })
  @IsString()
  @Length(1, 500)
  @IsFreeText()
  reason!: string;
}

export class FraudReviewView {
  @ApiProperty({ enum: FRAUD_REVIEW_DECISIONS }) decision!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ example: 'admin:3f2a9c1b0d4e', description: '<role>:<API key id>' }) by!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'null when the stored time is not a date (a hand-edited or damaged row: the review and its event then read tampered)',
  })
  at!: string | null;
  @ApiPropertyOptional({
    enum: FRAUD_INTEGRITY_STATES,
    description:
      "In an event's review history: verified (the server's tag verifies, in its place in the history), legacy (stored before tags existed, unchanged since the upgrade), tampered (changed, moved or written outside the server: not to be trusted). On an event's current review: the event's integrity (its tag covers the review)",
  })
  integrity?: string;
}

export class RefusedPunchView {
  @ApiProperty({ enum: ['check_in', 'check_out'] }) type!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-10-02T02:30:00.000Z',
    description:
      "The punch's time as the phone claimed it (ISO 8601, UTC); null when the stored value is not a date (the event then reads tampered)",
  })
  at!: string | null;
  @ApiPropertyOptional({ description: 'The site the punch claimed (the event siteId)' })
  siteId?: string;
}

export class FraudEventView {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: FRAUD_EVENT_TYPES }) type!: string;
  @ApiPropertyOptional() deviceId?: string;
  @ApiPropertyOptional() workerId?: string;
  @ApiPropertyOptional() siteId?: string;
  @ApiPropertyOptional() packetId?: string;
  @ApiProperty() detail!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'When it was detected (ISO 8601); null when the stored value is not a date (a hand-edited or damaged row)',
  })
  at!: string | null;
  @ApiPropertyOptional({
    type: RefusedPunchView,
    description:
      'The punch a refusal of an authentic packet names (well formed, its device signature verified, the token worker): site_not_allowed, timestamp_in_future, timestamp_too_old and outside_token_window only, recorded since the punch was kept; covered by the event tag. A payroll counts these by their claimed time (refusedPunches)',
  })
  punch?: RefusedPunchView;
  @ApiPropertyOptional({
    type: FraudReviewView,
    description: 'The latest review; absent while unreviewed',
  })
  review?: FraudReviewView;
  @ApiProperty({
    enum: FRAUD_INTEGRITY_STATES,
    description:
      "verified: the server's tag over the event and its current review verifies; legacy: stored before tags existed (tagged as legacy at the upgrade, unchanged since; what it held before nobody can vouch for); tampered: changed outside the server (its type, time, ids, detail or review do not match its tag; in the event's own view also a review history with a review missing, moved or changed). A tampered event is listed, so the rest of the page stays usable, but is not to be trusted, and cannot be reviewed (503 fraud_event_tampered)",
  })
  integrity!: string;
}

export class FraudEventDetailView extends FraudEventView {
  @ApiProperty({ type: [FraudReviewView], description: 'Every review, oldest first' })
  reviews!: FraudReviewView[];
}
