import { Body, Controller, Get, HttpCode, Param, Post, Query, Res, Logger } from '@nestjs/common';
import type { Response } from 'express';
import {
  ErrorBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { ApiThekedarSignatureHeaders } from '@app/workforce';
import { CorrectionService } from './correction.service';
import { CSV_HEADER, csvRow, PAYROLL_CSV_HEADER, payrollCsvRow } from './domain/timesheet-csv';
import { sendCsv } from './csv-export';
import {
  CorrectionResponse,
  CsvQuery,
  CreateCorrectionDto,
  PayrollView,
  PeriodQuery,
  SiteParam,
  TimesheetPageQuery,
  TimesheetPageView,
} from './dto/timesheet.dto';
import { CurrentTimesheetActor, TimesheetAccess, TimesheetActor } from './timesheet-access.guard';
import { TimesheetsService } from './timesheets.service';
import { PayrollCloseService } from './payroll-close/payroll-close.service';

const SIGNED_READ =
  'Admin or auditor `x-api-key`, or a thekedar-signed request (headers as for worker creation; the signed value is `{"method":"GET","path":"<path with query string, as sent>"}`, so the message is `<x-request-timestamp>.<JCS of it>`). A thekedar reads only at its own sites (another site, an unknown one the same: 403 `site_not_allowed`) and sees only the workers it onboarded there.';

/** The 503s of every read of this controller (a route that adds its own repeats these). */
const READS_UNAVAILABLE =
  "timesheets_rebuilding: the site's timesheets are being rebuilt (`npm run timesheets:rebuild`), " +
  'and no partial numbers are answered; retry after the `Retry-After` header (seconds). A CSV ' +
  'whose rows were already streaming when a rebuild started is cut off (the connection closes ' +
  "before its end).\n\ntimesheets_tampered: entries of the site's read model were changed outside the " +
  'server (their tags do not verify, or an entry is older than the corrections stored with it): ' +
  'no numbers are answered until an operator runs `npm run ' +
  'timesheets:rebuild` (days changed outside the server are recomputed at the read, not refused). ' +
  'A CSV checks its first page before its status; one whose later page meets such an entry is ' +
  "cut off like a rebuild.\n\ntimesheets_ledger_unverified: a sealed link of the site's ledger " +
  'fails its check (changed in the database after its seal): the read model stops before it and ' +
  'no numbers are answered until the link is put back as sealed (`/health` names the site and ' +
  'seq); retry after the `Retry-After` header.\n\n' +
  "site_tampered: the site's stored record (its time zone or geofence) was changed outside the server (SiteSeal): nothing is read, paid or corrected until an operator restores it";

/** The payroll's 503s (JSON and CSV): the reads' and its closes'. */
const PAYROLL_UNAVAILABLE =
  `${READS_UNAVAILABLE}\n\n` +
  'payroll_close_tampered: a close of a period the read overlaps was changed outside the ' +
  'server (its recorded totals cannot be trusted); payroll_close_chain_broken: a close of the ' +
  'site was deleted, reordered or changed outside the server (a deleted one would read as an ' +
  "open period), the site's payroll-closes log sealed more closes than are stored (every close " +
  'deleted with its head, a head put back from an older copy), or a close of an earlier ' +
  'release fails its tag and is not re-linked (recovery: restore the closes with the ' +
  "transparency log's checkpoint rows, a full-store restore); worker_tampered: a worker the " +
  'payroll names was changed outside the server ' +
  '(its name or phone, where its pay goes)';

@ApiTags('timesheets')
@ApiThekedarSignatureHeaders('hex HMAC-SHA256 (see the operation)')
@ApiResponse({
  status: 400,
  type: ErrorBody,
  description: 'Invalid input, invalid_period, period_too_long',
})
@ApiResponse({
  status: 403,
  type: ErrorBody,
  description:
    'worker_not_in_crew: a thekedar asked about a worker it did not onboard; thekedar_tampered: ' +
    "the signing thekedar's stored record was changed outside the server",
})
@ApiResponse({
  status: 404,
  type: ErrorBody,
  description:
    'site_not_found; worker_not_found: the `workerId` filter names no worker, or a worker never ' +
    'assigned to this site (a worker moved off it is read: its days there stay)',
})
@ApiResponse({
  status: 503,
  type: ErrorBody,
  description: READS_UNAVAILABLE,
})
@Controller('api/v5/sites/:siteId')
export class TimesheetsController {
  private readonly logger = new Logger(TimesheetsController.name);

  constructor(
    private readonly timesheets: TimesheetsService,
    private readonly corrections: CorrectionService,
    private readonly closes: PayrollCloseService,
  ) {}

  @Get('timesheets')
  @TimesheetAccess('admin', 'auditor')
  @ApiOperation({
    summary: 'Worker-days of a period (JSON, keyset paged)',
    description: SIGNED_READ,
  })
  @ApiOkResponse({ type: TimesheetPageView })
  // replaces the controller's 400: only this read takes a cursor
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description:
      'Invalid input, invalid_period, period_too_long, invalid_cursor (not a nextCursor of this ' +
      'site, period and workerId)',
  })
  async list(
    @Param() params: SiteParam,
    @Query() query: TimesheetPageQuery,
    @CurrentTimesheetActor() actor: TimesheetActor,
  ): Promise<TimesheetPageView> {
    const scope = await this.timesheets.scope({ ...query, siteId: params.siteId }, actor);
    const page = await this.timesheets.page(scope, query.limit ?? 100, query.cursor);
    return {
      siteId: scope.siteId,
      timeZone: scope.timeZone,
      from: scope.from,
      to: scope.to,
      ...page,
    };
  }

  @Get('timesheets.csv')
  @TimesheetAccess('admin', 'auditor')
  @ApiOperation({
    summary: 'Worker-days of a period as CSV (RFC 4180, streamed)',
    description:
      `${SIGNED_READ} Columns: ${CSV_HEADER.join(', ')}. \`hours\` is the day's seconds / 3600 ` +
      'to 2 decimals, so the rows of a period may not sum to the payroll `hours` (rounded once ' +
      'for the period, from the seconds); `corrected` appears once a day in `flags`. ' +
      "`worker_name` and `worker_phone` are the worker's now (what its record says at export " +
      'time). A cell that starts with `=`, `+`, `-`, `@`, a tab, CR or NUL (a name typed as a ' +
      'formula) is written with a single quote before it, quoted (OWASP CSV injection), so no ' +
      'spreadsheet runs it as a formula; a phone-shaped cell, `+` then digits in groups split ' +
      'by single spaces (`+919810000001`, `+91 98100 00001`), is written as it is (a number to ' +
      'a spreadsheet, nothing it could run).',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'One row per worker-day, CRLF line ends, header first' })
  async csv(
    @Param() params: SiteParam,
    @Query() query: CsvQuery,
    @CurrentTimesheetActor() actor: TimesheetActor,
    @Res() res: Response,
  ): Promise<void> {
    const { bom, scope } = await this.csvOpening(params, query, actor);
    const timesheets = this.timesheets;
    // a page at a time, each with the name and phone of its workers (one read a page)
    async function* chunks(): AsyncGenerator<string> {
      for await (const page of timesheets.walk(scope)) {
        const people = await timesheets.peopleOf(page);
        yield page.map((d) => csvRow(d, people.get(d.workerId))).join('');
      }
    }
    await sendCsv(
      res,
      {
        filename: `timesheets-${scope.siteId}-${scope.from}-${scope.to}.csv`,
        header: CSV_HEADER,
        bom,
        chunks: chunks(),
      },
      this.logger,
    );
  }

  @Get('payroll')
  @TimesheetAccess('admin', 'auditor')
  @ApiOperation({
    summary: 'Payroll summary per worker for a period',
    description:
      `${SIGNED_READ} A day present is a day with a live check-in: a shift still open counts ` +
      '(0 hours, flagged), a day with only a check-out without a check-in does not. `hours` ' +
      'is the seconds of the period / 3600 rounded to 2 decimals once; the days of the CSV ' +
      'and the JSON are rounded each, so their sum may differ slightly; `workedSeconds` is not ' +
      'rounded: the sum of whole seconds per shift, each shift truncated to the second.',
  })
  @ApiOkResponse({ type: PayrollView })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description: PAYROLL_UNAVAILABLE,
  })
  async payroll(
    @Param() params: SiteParam,
    @Query() query: PeriodQuery,
    @CurrentTimesheetActor() actor: TimesheetActor,
  ): Promise<PayrollView> {
    const scope = await this.timesheets.scope({ ...query, siteId: params.siteId }, actor);
    const workers = await this.timesheets.payroll(scope);
    return {
      siteId: scope.siteId,
      timeZone: scope.timeZone,
      from: scope.from,
      to: scope.to,
      ...(await this.closes.withClose(scope, workers)),
    };
  }

  @Get('payroll.csv')
  @TimesheetAccess('admin', 'auditor')
  @ApiOperation({
    summary: 'Payroll summary per worker as CSV (the payroll JSON, one row per worker)',
    description:
      `${SIGNED_READ} Columns: ${PAYROLL_CSV_HEADER.join(', ')}: the payroll JSON's fields ` +
      "(`hours` to 2 decimals), and for a period that is exactly a closed one (the JSON's " +
      '`closed`) the change since the close (`sinceClose`), empty otherwise. The CSV rules ' +
      'of timesheets.csv: RFC 4180, CRLF, a cell a spreadsheet would run as a formula written ' +
      'with a single quote before it (a phone `+` and digits as it is), `bom=true` for a ' +
      "UTF-8 byte order mark; `flagged_days` is the JSON's `flaggedDays`; the payroll is " +
      'read whole before the status line, so a refusal is a JSON error (a file cut off after ' +
      'its status ends with an `#export_incomplete,<code>` line, as timesheets.csv).',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'One row per worker, CRLF line ends, header first' })
  @ApiResponse({ status: 503, type: ErrorBody, description: PAYROLL_UNAVAILABLE })
  async payrollCsv(
    @Param() params: SiteParam,
    @Query() query: CsvQuery,
    @CurrentTimesheetActor() actor: TimesheetActor,
    @Res() res: Response,
  ): Promise<void> {
    const { bom, scope } = await this.csvOpening(params, query, actor);
    const payroll = await this.closes.withClose(scope, await this.timesheets.payroll(scope));
    async function* chunks(): AsyncGenerator<string> {
      // 500 rows a write
      for (let i = 0; i < payroll.workers.length; i += 500) {
        yield payroll.workers
          .slice(i, i + 500)
          .map((w) => payrollCsvRow(w))
          .join('');
      }
    }
    await sendCsv(
      res,
      {
        filename: `payroll-${scope.siteId}-${scope.from}-${scope.to}.csv`,
        header: PAYROLL_CSV_HEADER,
        bom,
        chunks: chunks(),
      },
      this.logger,
    );
  }

  @Post('corrections')
  @TimesheetAccess('admin')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Correct a punch, or record a missing shift: a new ledger entry, never an edit',
    description:
      'Admin `x-api-key`, or a thekedar-signed request (as for worker creation: HMAC over ' +
      '`<x-request-timestamp>.<JCS(body)>`), for a worker the thekedar onboarded. Actions: ' +
      '`void` (any punch or correction not voided yet), `add_check_out` (a check-in without a ' +
      'check-out, with an `at` after it, within TIMESHEET_MAX_SHIFT_HOURS and before the ' +
      "worker's next punch), `add_check_in` (a check-out without a check-in, with an `at` " +
      "before it, within TIMESHEET_MAX_SHIFT_HOURS and after the worker's previous punch), " +
      '`move` (a punch or an added check-out or check-in, with an `at` within ' +
      'TIMESHEET_MAX_SHIFT_HOURS of the time it was recorded at), `add_shift` (no target: a ' +
      'whole shift of `workerId` from `at` to `until`, at most TIMESHEET_MAX_SHIFT_HOURS long, ' +
      'starting at most TIMESHEET_BACKFILL_DAYS ago (`shift_too_old`), at a site the worker had ' +
      'then or was given since (a site given later counts for the shifts before it, as the ' +
      "sites of the worker's creation do; one it was moved off by then, or never had: " +
      "`worker_not_at_site`), overlapping none of the worker's shifts or punches here: " +
      'a shift punched on a wrong day and voided, lost punches, a paper register; it is a ' +
      'shift of its own, marked `added`, paired with no punch, voided like any correction, ' +
      "never moved), `acknowledge_over_max_hours` (no `at`: the entry its day's " +
      '`over_max_hours` flag names, the shift that takes the day past ' +
      'TIMESHEET_MAX_SHIFT_HOURS, such as a real double shift; the day reads ' +
      '`over_max_hours_acknowledged` and is no longer flagged until an entry of the day newer ' +
      'than the acknowledgement, a punch or a correction, asks for a look again; voided like ' +
      'any correction). No correction may make an added shift overlap another shift or punch ' +
      '(`shift_overlap`). No `at` or `until` later than the ' +
      'server clock plus SYNC_MAX_CLOCK_SKEW_SECONDS. The target must be an entry of this ' +
      'site. The same correction sent again (same correctionId, same content) answers 200 ' +
      'with status `duplicate` whatever the action, before any rule is checked; the same ' +
      'correctionId with other content answers 409 `correction_id_conflict`. The rules hold ' +
      'across replicas: of two conflicting corrections sent at once, one is appended and the ' +
      "other gets its rule's answer. Other workers' punches synced meanwhile do not make it " +
      'check again.',
  })
  @ApiCreatedResponse({ type: CorrectionResponse })
  // replaces the controller's 400 (a correction takes no period)
  @ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      'already_voided, already_checked_out, already_checked_in, already_acknowledged, ' +
      'correction_id_conflict; period_closed (a thekedar: the correction touches a day of a ' +
      'payroll period an admin closed; an admin may correct it)',
  })
  @ApiResponse({
    status: 404,
    type: ErrorBody,
    description:
      'site_not_found (checked first), entry_not_found (the target), worker_not_found (add_shift)',
  })
  @ApiResponse({
    status: 422,
    type: ErrorBody,
    description:
      'cross_site_correction, not_a_check_in, not_a_check_out, time_required, time_in_future, ' +
      'check_out_out_of_range, check_in_out_of_range, move_out_of_range, move_breaks_shift, ' +
      'shift_out_of_range, shift_too_old, shift_overlap, worker_not_at_site, ' +
      'not_over_max_hours, ...',
  })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      "correction_contended (the corrected worker's entries kept changing while the correction " +
      "was checked; other workers' syncs do not count), timesheets_behind: retry; " +
      "timesheets_catching_up (this server's read model is more than " +
      'TIMESHEET_CORRECTION_MAX_LAG links behind the ledger, or did not catch up within ' +
      'TIMESHEET_CORRECTION_WAIT_MS; nothing was appended and the catch-up goes on): send the ' +
      'same correction again after `Retry-After` seconds; timesheets_rebuilding (the site is ' +
      "being rebuilt): retry after `Retry-After` seconds; timesheets_tampered (the target's " +
      'ledger entry, or an entry of the read model, was changed outside the server): this ' +
      'request appended nothing (a correction already sent with its correctionId stays), an ' +
      'operator restores the store; timesheets_key_unavailable (the target is tagged under a ' +
      'store key this server does not hold, as during a rolling STORE_MAC_KEY rotation): this ' +
      'request appended nothing, retry after `Retry-After` seconds (for 10 minutes per target, ' +
      'then timesheets_tampered); timesheets_ledger_unverified ' +
      "(a sealed link of the site's ledger fails its check: nothing was appended, until the link " +
      'is put back as sealed); ' +
      "site_tampered: the site's stored record (its time zone or geofence) was changed outside the server (SiteSeal): nothing is read, paid or corrected until an operator restores it; " +
      "payroll_close_chain_broken (a thekedar's correction: a close of the site was deleted, " +
      "reordered or changed outside the server, or the site's payroll-closes log sealed more " +
      'closes than are stored, so whether the day is paid cannot be known); ' +
      "ledger_unauthenticated_entry (the site's ledger holds a row the server did not write, or " +
      'one whose key copy was changed: nothing appended)',
  })
  async correct(
    @Param() params: SiteParam,
    @Body() body: CreateCorrectionDto,
    @CurrentTimesheetActor() actor: TimesheetActor,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CorrectionResponse> {
    const result = await this.corrections.correct(params.siteId, body, actor);
    if (result.status === 'duplicate') res.status(200);
    return result;
  }

  /** A CSV's opening: whether it starts with a byte order mark, and the scope it reads. */
  private async csvOpening(params: SiteParam, query: CsvQuery, actor: TimesheetActor) {
    const { bom, ...period } = query;
    const scope = await this.timesheets.scope({ ...period, siteId: params.siteId }, actor);
    return { bom: bom === 'true', scope };
  }
}
