import {
  IsDay,
  NotBefore,
  OBJECT_ID_PATTERN,
  PageLimit,
  IsIn,
  IsInt,
  isCalendarDay,
  IsOmittable,
  IsString,
  Length,
  IsFreeText,
  freeTextDescription,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
  registerDecorator,
  ApiProperty,
  ApiPropertyOptional,
  Type,
  UTC_TIMESTAMP_PATTERN,
} from '@app/common';
import { PACKET_ID_PATTERN } from '@app/offline-sync';
import { PayrollCloseHeadView, PayrollTotalsView } from '../payroll-close/payroll-close.dto';
import { CORRECTION_ACTIONS, CorrectionAction, TARGETED_ACTIONS } from '../domain/correction';

/**
 * A field of some actions only: required by them, refused (400) with any other. Its
 * `@ValidateIf` lets a value through to the checks when it is present or its action needs it.
 */
@ValidatorConstraint({ name: 'onlyForActions' })
class OnlyForActionsConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const [actions] = args.constraints as [readonly string[]];
    const { action } = args.object as { action?: unknown };
    // an action that is none of ours is the action's own error: no second one about its fields
    if (!(CORRECTION_ACTIONS as readonly unknown[]).includes(action)) return true;
    return value !== undefined && actions.includes(action as string);
  }

  defaultMessage(args: ValidationArguments): string {
    const [actions] = args.constraints as [readonly string[]];
    return args.value === undefined
      ? `${args.property} is required by ${actions.join(', ')}`
      : `${args.property} is taken by ${actions.join(', ')} only`;
  }
}

function OnlyForActions(actions: readonly CorrectionAction[]): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [actions],
      validator: OnlyForActionsConstraint,
    });
}

/** The instants a correction may name: from the Unix epoch to the end of year 9999. */
const EARLIEST_CORRECTION = '1970-01-01T00:00:00.000Z';
const LATEST_CORRECTION = '9999-12-31T23:59:59.999Z';

/**
 * A time of UTC_TIMESTAMP_PATTERN's shape (that one's message tells the shape) that names a real
 * day and clock time within the accepted range. Not `@IsISO8601({ strict: true })`: it calls
 * 0001-01-01T00:00:00Z, valid ISO 8601, "not a valid ISO 8601 date string".
 */
@ValidatorConstraint({ name: 'isCorrectionTime' })
class IsCorrectionTimeConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || !UTC_TIMESTAMP_PATTERN.test(value)) return true;
    const [hours, minutes, seconds] = value.slice(11, 19).split(':').map(Number);
    if (!isCalendarDay(value.slice(0, 10)) || hours > 23 || minutes > 59 || seconds > 59) {
      return false;
    }
    const ms = Date.parse(value);
    return ms >= Date.parse(EARLIEST_CORRECTION) && ms <= Date.parse(LATEST_CORRECTION);
  }

  defaultMessage(args: ValidationArguments): string {
    return (
      `${args.property} must be a real day and time (hours 00-23, minutes and seconds 00-59) ` +
      `from ${EARLIEST_CORRECTION} to ${LATEST_CORRECTION}`
    );
  }
}

function IsCorrectionTime(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      target: target.constructor,
      propertyName: propertyName as string,
      validator: IsCorrectionTimeConstraint,
    });
}

export class SiteParam {
  @ApiProperty()
  @Matches(OBJECT_ID_PATTERN, { message: 'siteId must be a 24-hex id' })
  siteId!: string;
}

export class PeriodQuery {
  @ApiProperty({
    example: '2026-03-01',
    description: 'First local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive',
  })
  @IsDay()
  from!: string;

  @ApiProperty({
    example: '2026-03-07',
    description:
      'Last local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive; before `from` → 400 invalid_period',
  })
  @IsDay()
  @NotBefore('from')
  to!: string;

  @ApiPropertyOptional({ description: 'One worker only' })
  @IsOmittable()
  @Matches(OBJECT_ID_PATTERN, { message: 'workerId must be a 24-hex id' })
  workerId?: string;
}

export class CsvQuery extends PeriodQuery {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description:
      'true: the file starts with a UTF-8 byte order mark (EF BB BF), which Excel on Windows ' +
      'needs to read a double-clicked CSV as UTF-8 (names in Devanagari or any script beyond ' +
      'ASCII are garbled without it); default false, as RFC 4180 readers expect',
  })
  @IsOmittable()
  @IsIn(['true', 'false'])
  bom?: string;
}

export class TimesheetPageQuery extends PeriodQuery {
  @ApiPropertyOptional({
    description:
      'nextCursor of the previous page, with the same site, from, to and workerId (another ' +
      'listing refuses it: 400 invalid_cursor)',
  })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @PageLimit()
  limit?: number;
}

export class LedgerRefDto {
  @ApiProperty()
  @Matches(OBJECT_ID_PATTERN, { message: 'target.siteId must be a 24-hex id' })
  siteId!: string;
  @ApiProperty({ example: 12 }) @IsInt() @Min(1) @Max(Number.MAX_SAFE_INTEGER) seq!: number;
}

export class CreateCorrectionDto {
  @ApiPropertyOptional({
    description:
      'Client-chosen lowercase UUID, as packet ids are: the same correction sent again is ' +
      'answered as a duplicate. An uppercase one is refused (400), not taken as another id.',
    pattern: PACKET_ID_PATTERN.source,
    example: '4b1d7f5e-8c1a-4c55-9d1e-2f7a0c3b9e20',
  })
  @IsOmittable()
  @IsString()
  @Matches(PACKET_ID_PATTERN, { message: 'correctionId must be a lowercase UUID' })
  correctionId?: string;

  @ApiProperty({
    enum: CORRECTION_ACTIONS,
    description:
      'What the correction does (see the operation): void, add_check_out, add_check_in, move, ' +
      "add_shift, or acknowledge_over_max_hours (its target: the seq of a day's over_max_hours " +
      'flag, the shift that takes the day past TIMESHEET_MAX_SHIFT_HOURS; no `at`)',
  })
  @IsIn(CORRECTION_ACTIONS)
  action!: CorrectionAction;

  @ApiPropertyOptional({
    type: LedgerRefDto,
    description:
      'The ledger entry corrected (this site only): required by every action but add_shift, ' +
      'which corrects no entry and takes none',
  })
  @ValidateIf((o: CreateCorrectionDto, v: unknown) => v !== undefined || o.action !== 'add_shift')
  @OnlyForActions(TARGETED_ACTIONS)
  @ValidateNested()
  @Type(() => LedgerRefDto)
  target?: LedgerRefDto;

  @ApiPropertyOptional({
    description:
      "add_shift only (required there): the worker whose shift is recorded, one of this site's",
  })
  @ValidateIf((o: CreateCorrectionDto, v: unknown) => v !== undefined || o.action === 'add_shift')
  @OnlyForActions(['add_shift'])
  @Matches(OBJECT_ID_PATTERN, { message: 'workerId must be a 24-hex id' })
  workerId?: string;

  @ApiPropertyOptional({
    example: '2026-03-03T12:30:00.000Z',
    description:
      'ISO-8601 UTC: the check-out time (add_check_out), the check-in time (add_check_in), the ' +
      'new time (move) or the check-in of the shift (add_shift). Never later than the server ' +
      'clock plus SYNC_MAX_CLOCK_SKEW_SECONDS; a move stays within TIMESHEET_MAX_SHIFT_HOURS of ' +
      'the time the entry was recorded at; an add_shift starts at most TIMESHEET_BACKFILL_DAYS ' +
      'before the server clock (422 shift_too_old).',
  })
  @IsOmittable()
  @IsString()
  @Matches(UTC_TIMESTAMP_PATTERN, {
    message:
      'at must be ISO-8601 UTC as packets are (2026-03-01T09:30:00.000Z, 0 to 3 fraction digits)',
  })
  @IsCorrectionTime()
  at?: string;

  @ApiPropertyOptional({
    example: '2026-03-03T11:30:00.000Z',
    description:
      'add_shift only (required there): the check-out of the shift, ISO-8601 UTC as `at`; ' +
      'after `at`, at most TIMESHEET_MAX_SHIFT_HOURS after it (422 shift_out_of_range names ' +
      'the limit; a site where longer shifts are real raises TIMESHEET_MAX_SHIFT_HOURS, up to ' +
      '36), never later than the server clock plus SYNC_MAX_CLOCK_SKEW_SECONDS',
  })
  @ValidateIf((o: CreateCorrectionDto, v: unknown) => v !== undefined || o.action === 'add_shift')
  @OnlyForActions(['add_shift'])
  @IsString()
  @Matches(UTC_TIMESTAMP_PATTERN, {
    message:
      'until must be ISO-8601 UTC as packets are (2026-03-01T09:30:00.000Z, 0 to 3 fraction digits)',
  })
  @IsCorrectionTime()
  until?: string;

  @ApiProperty({
    example: 'Phone battery died; left at 18:00 (site register)',
    description: freeTextDescription(3, 500, true),
  })
  @IsString()
  @Length(3, 500)
  @IsFreeText(3, { keepAsSent: true })
  reason!: string;
}

export class CorrectionResponse {
  @ApiProperty() correctionId!: string;
  @ApiProperty({ enum: ['appended', 'duplicate'] }) status!: string;
  @ApiProperty() siteId!: string;
  @ApiProperty() seq!: number;
  @ApiProperty() recordHash!: string;
}

export class DayFlagView {
  @ApiProperty({
    description:
      'One flag per entry behind it, but `corrected` once a day, named by the newest correction ' +
      "of the day's punches (every correction is in the day's seqs). Flags that need a look " +
      '(they make the day `flagged`): `open_shift`, `check_out_without_check_in`, `low_trust` ' +
      '(a punch that counts, synced from a low-trust device), `overlapping_shift` (an added ' +
      'shift a later punch overlaps: void one), `overlaps_other_site` (a shift, or a lone ' +
      'punch, overlapping in time a shift of the same worker at another site, named in ' +
      '`detail`: both sites count the hours until a supervisor corrects one), ' +
      '`over_max_hours` (the day adds up to more than TIMESHEET_MAX_SHIFT_HOURS, named by the ' +
      'shift that takes it past: an `acknowledge_over_max_hours` correction of that seq says ' +
      "the hours are right), `fraud` (a fraud event of one of the day's punches, its type in " +
      '`detail`, not dismissed in review: unreviewed or confirmed), `fraud_tampered` (a fraud ' +
      "event naming one of the day's punches was changed or inserted outside the server, its " +
      'tag does not verify: its type is not shown, and a dismissal written into the store ' +
      'does not clear the day). Informational flags (what a ' +
      'supervisor already did; they do not flag a day): `corrected`, `voided_punch` (a punch ' +
      'voided), `voided_correction` (an added check-out, check-in or shift, or another ' +
      'correction, voided; days stored before it existed name such a seq `voided_punch` until ' +
      'they are recomputed), `over_max_hours_acknowledged` (in place of `over_max_hours`, named ' +
      'by the acknowledgement: it holds until an entry of the day newer than it, a punch or a ' +
      'correction, asks for a look again), `fraud_dismissed` (in place of `fraud` for an event ' +
      'an admin dismissed in the fraud review, POST /api/v5/fraud/events/{eventId}/review; a ' +
      'later review that confirms it makes it `fraud` again).',
    enum: [
      'open_shift',
      'check_out_without_check_in',
      'low_trust',
      'corrected',
      'voided_punch',
      'voided_correction',
      'overlapping_shift',
      'overlaps_other_site',
      'over_max_hours',
      'over_max_hours_acknowledged',
      'fraud',
      'fraud_dismissed',
      'fraud_tampered',
    ],
  })
  type!: string;
  @ApiProperty({ description: 'Ledger seq (of this site) behind the flag' }) seq!: number;
  @ApiPropertyOptional({
    description:
      'For fraud and fraud_dismissed: the fraud event type; for overlaps_other_site: the siteId of the other site, ' +
      'shown to a key and to a thekedar that works at that site too; a thekedar that does not ' +
      'gets the flag without `detail` (a shift at another site, not which one), once per seq',
  })
  detail?: string;
}

export class PunchView {
  @ApiProperty() seq!: number;
  @ApiProperty({ description: 'ISO-8601 UTC' }) at!: string;
  @ApiProperty({ description: 'Local time with offset' }) local!: string;
}

export class ShiftView {
  @ApiProperty({ type: PunchView }) in!: PunchView;
  @ApiPropertyOptional({ type: PunchView }) out?: PunchView;
  @ApiProperty({ description: 'Elapsed time from in to out, truncated to whole seconds' })
  seconds!: number;
  @ApiPropertyOptional({
    description:
      'true for a shift an add_shift correction recorded (its `in.seq` and `out.seq` are that ' +
      "correction's seq; who made it is the ledger entry's `by`); absent for punched shifts",
  })
  added?: boolean;
}

export class TimesheetDayView {
  @ApiProperty() workerId!: string;
  @ApiProperty({ example: '2026-03-03', description: 'Local day in the site zone' }) date!: string;
  @ApiPropertyOptional({ description: 'Local time with offset, to the second' }) firstIn?: string;
  @ApiPropertyOptional({ description: 'Local time with offset, to the second' }) lastOut?: string;
  @ApiProperty({ example: 8.5, description: 'workedSeconds / 3600, rounded to 2 decimals' })
  hours!: number;
  @ApiProperty({
    description:
      "The day's shifts' whole seconds, summed: each shift's elapsed time truncated to the " +
      'second (under a second short per shift), so days, CSV rows and the payroll add up exactly',
  })
  workedSeconds!: number;
  @ApiProperty({ type: [ShiftView] }) shifts!: ShiftView[];
  @ApiProperty({ type: [DayFlagView] }) flags!: DayFlagView[];
  @ApiProperty({
    description:
      'true when a flag needs a look (any but the informational `corrected`, `voided_punch`, ' +
      '`voided_correction`): a day whose problems corrections resolved is not flagged',
  })
  flagged!: boolean;
  @ApiProperty() corrected!: boolean;
  @ApiProperty({ type: [Number], description: 'Every ledger seq behind the day' }) seqs!: number[];
}

export class TimesheetPageView {
  @ApiProperty() siteId!: string;
  @ApiProperty({ example: 'Asia/Kolkata' }) timeZone!: string;
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiProperty({ type: [TimesheetDayView] }) days!: TimesheetDayView[];
  @ApiPropertyOptional({
    description:
      'Pass as ?cursor= for the next page (absent on the last). A page may hold fewer days than ' +
      'limit, even none, and still have one: a page visits at most TIMESHEET_PAGE_MAX_WORKERS ' +
      'workers (1,000 by default), so a period with few days among many workers takes several ' +
      'pages. Read until nextCursor is absent, not until a page is short. A cursor is bound to ' +
      'its listing: the same site, from, to and workerId.',
  })
  nextCursor?: string;
}

export class PayrollWorkerView {
  @ApiProperty() workerId!: string;
  @ApiPropertyOptional({
    example: 'Sita Devi',
    description:
      "The worker's name now (what its record says when the summary is read, as the CSV's " +
      '`worker_name`); absent only if no worker record has this workerId',
  })
  name?: string;
  @ApiPropertyOptional({
    example: '+919810000001',
    description:
      "The worker's phone now, as the CSV's `worker_phone` (E.164; a worker stored before " +
      'phones were normalized shows its number as typed); absent as `name` is',
  })
  phone?: string;
  @ApiProperty({
    description:
      'Days with at least one shift, that is with a live check-in: a day whose shift is still ' +
      'open counts (0 hours, flagged open_shift), a day with only a check-out without a ' +
      'check-in does not (flagged; an add_check_in correction makes it a shift)',
  })
  daysPresent!: number;
  @ApiProperty({
    example: 46.5,
    description:
      "workedSeconds / 3600 rounded to 2 decimals once, for the period: the days' hours (and " +
      "the CSV's rows) are each rounded, so their sum may differ from it by up to 0.005 a day. " +
      'workedSeconds is not rounded: whole seconds per shift, each truncated to the second.',
  })
  hours!: number;
  @ApiProperty({ description: "The sum of the days' workedSeconds" }) workedSeconds!: number;
  @ApiProperty({
    description:
      'Days flagged (see TimesheetDayView.flagged): an open shift, a stray check-out, a ' +
      'low-trust punch, an overlapping added shift, a shift overlapping one at another site ' +
      "(its hours are in both sites' payrolls until corrected), more hours than the longest " +
      'shift, fraud not dismissed in review, or a fraud event changed outside the server; a day fixed by corrections (a stray punch ' +
      'voided) or whose fraud events were all dismissed (`fraud_dismissed`) is not counted',
  })
  flaggedDays!: number;
  @ApiProperty() correctedDays!: number;
  @ApiProperty({
    description:
      "The worker's punches at this site that the server refused at sync, by their claimed time " +
      "in the period (the site's local days): timestamp_too_old (a phone offline longer than " +
      'SYNC_MAX_OFFLINE_AGE_HOURS), outside_token_window, site_not_allowed and ' +
      'timestamp_in_future of a well-formed packet signed by the phone, for the token worker. ' +
      'One per packet (its device and packetId), however often and for whatever reasons it was ' +
      'refused; none for a packet the ledger holds (accepted when sent again, as a ' +
      'timestamp_in_future once the server clock caught up: it is in the hours). ' +
      'Not in the hours: pay them from the site register (an add_shift correction). List them: ' +
      'GET /api/v5/fraud/events?workerId=&type=timestamp_too_old&from= (each event `punch`). ' +
      'A worker with refused punches and no day has a row of zeros with them',
  })
  refusedPunches!: number;
  @ApiPropertyOptional({
    type: PayrollTotalsView,
    description:
      'When the period read is a closed one (`closed`): the totals the close recorded for the ' +
      'worker (zeros for a worker with no day then)',
  })
  atClose?: PayrollTotalsView;
  @ApiPropertyOptional({
    type: PayrollTotalsView,
    description:
      'When the period read is a closed one: the totals now less `atClose` (a late sync, an ' +
      "admin's correction since the close): what the next pay run adds, or takes back when " +
      'negative',
  })
  sinceClose?: PayrollTotalsView;
}

export class PayrollView {
  @ApiProperty() siteId!: string;
  @ApiProperty() timeZone!: string;
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiPropertyOptional({
    type: PayrollCloseHeadView,
    description:
      'The period read is exactly a closed one (POST …/payroll/closes): each worker carries ' +
      '`atClose` and `sinceClose`, and a worker of the close with no day now shows with zeros',
  })
  closed?: PayrollCloseHeadView;
  @ApiPropertyOptional({
    type: [PayrollCloseHeadView],
    description: 'The closed periods the period read overlaps, when it is not exactly one of them',
  })
  overlapsClosed?: PayrollCloseHeadView[];
  @ApiProperty({ type: [PayrollWorkerView] }) workers!: PayrollWorkerView[];
}
