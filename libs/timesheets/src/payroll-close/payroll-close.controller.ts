import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  CurrentPrincipal,
  ErrorBody,
  Principal,
  Roles,
} from '@app/common';
import { SiteParam } from '../dto/timesheet.dto';
import { TimesheetsService } from '../timesheets.service';
import {
  ClosePayrollDto,
  ListClosesQuery,
  PayrollClosesView,
  PayrollCloseView,
} from './payroll-close.dto';
import { PayrollClose } from './payroll-close.repository';
import { PayrollCloseService } from './payroll-close.service';

@ApiTags('timesheets')
@Controller('api/v5/sites/:siteId/payroll/closes')
export class PayrollCloseController {
  constructor(
    private readonly closes: PayrollCloseService,
    private readonly timesheets: TimesheetsService,
  ) {}

  @Post()
  @Roles('admin')
  @ApiOperation({
    summary: "Close a site's paid payroll period: record per worker the totals it was paid on",
    description:
      'Admin key only. Reads the payroll of the period (every worker of the site) and stores, ' +
      'per worker, its `daysPresent`, `hours`, `workedSeconds` and `flaggedDays` in a row ' +
      "tagged with the server's store-MAC key. Afterwards the payroll of exactly that period " +
      'carries `closed` and per worker `atClose` and `sinceClose` (what changed since: pay the ' +
      "difference in the next run); a thekedar's correction touching a day of it is refused " +
      "(409 period_closed: an admin's is allowed and shows in `sinceClose`); a late sync is " +
      'never refused for a close (a punch is not lost): it shows in `sinceClose`. The same ' +
      'period again answers 200 with the stored close (nothing recorded).',
  })
  @ApiCreatedResponse({ type: PayrollCloseView, description: 'Closed' })
  @ApiOkResponse({ type: PayrollCloseView, description: 'Closed already (the stored close)' })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'Invalid input, invalid_period, period_too_long',
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      'period_overlaps_close: another closed period of the site overlaps this one; ' +
      'payroll_close_raced: another close of the site was recorded at the same moment by ' +
      'another server, or is still being recorded by one (nothing recorded: send it again)',
  })
  @ApiResponse({ status: 422, type: ErrorBody, description: 'period_not_over' })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'timesheets_rebuilding, timesheets_tampered, timesheets_ledger_unverified, site_tampered, ' +
      'worker_tampered (as the payroll read); payroll_close_tampered (the stored close of the ' +
      'period was changed outside the server); payroll_close_chain_broken (a close of the site ' +
      'was deleted, reordered or changed outside the server)',
  })
  async close(
    @Param() params: SiteParam,
    @Body() body: ClosePayrollDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PayrollCloseView> {
    const actor = { kind: 'key' as const, principal };
    const scope = await this.timesheets.scope({ ...body, siteId: params.siteId }, actor);
    const { created, close } = await this.closes.close(scope, principal);
    res.status(created ? 201 : 200);
    return viewOf(close, 'verified');
  }

  @Get()
  @Roles('admin', 'auditor')
  @ApiOperation({
    summary: "A site's closed payroll periods, newest first (paged by `before`)",
  })
  @ApiOkResponse({ type: PayrollClosesView })
  @ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
  async list(
    @Param() params: SiteParam,
    @Query() query: ListClosesQuery,
  ): Promise<PayrollClosesView> {
    const limit = query.limit ?? 100;
    const { closes, chain } = await this.closes.list(params.siteId, limit, query.before);
    return {
      chain,
      closes: closes.map((c) => viewOf(c, c.integrity)),
      ...(closes.length === limit ? { nextBefore: closes[limit - 1].from } : {}),
    };
  }
}

function viewOf(c: PayrollClose, integrity: 'verified' | 'tampered'): PayrollCloseView {
  return {
    siteId: c.siteId,
    from: c.from,
    to: c.to,
    at: new Date(c.at).toISOString(),
    by: c.by,
    integrity,
    workers: c.workers.map((w) => ({
      workerId: w.workerId,
      daysPresent: w.daysPresent,
      hours: w.hours,
      workedSeconds: w.workedSeconds,
      flaggedDays: w.flaggedDays,
    })),
  };
}
