import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import {
  actorOf,
  CommonError,
  CurrentPrincipal,
  ErrorBody,
  Principal,
  Public,
  Roles,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { OnboardingSponsor, WorkerAdmission } from './worker-admission';
import { Onboarding, OnboardingGuard } from './onboarding.guard';
import { ApiThekedarSignatureHeaders } from './thekedar-signature.headers';
import {
  CreateSiteDto,
  CreateSiteResponse,
  CreateThekedarDto,
  CreateThekedarResponse,
  CreateWorkerDto,
  CreateWorkerResponse,
  ListWorkersQuery,
  ThekedarEnrollmentCodeResponse,
  ThekedarIdParam,
  WorkerIdParam,
  SiteIdParam,
  SiteView,
  ThekedarView,
  UpdateSiteDto,
  UpdateThekedarDto,
  UpdateWorkerDto,
  WorkerDetailView,
  WorkerEnrollmentCodeResponse,
  WorkerEventView,
  WorkerStatusChangeDto,
  WorkerView,
  WorkforcePageQuery,
} from './dto/workforce.dto';
import { Site, Thekedar, Worker, WorkerEvent } from './domain/workforce';
import { WorkforceService } from './workforce.service';
import { WorkforceError } from './workforce.errors';

/**
 * 503 `workforce_change_contended` (MongoDB): the compare-and-set of a worker, site, thekedar or
 * enrollment code missed on every try, another change of it written meanwhile each time.
 */
const ChangeContended = () =>
  ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'workforce_change_contended (MongoDB): the record kept changing while this change was written (other changes of it at the same moment); nothing was recorded, retry',
  });

@ApiTags('workforce')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller('api/v5')
export class WorkforceController {
  constructor(
    private readonly workforce: WorkforceService,
    private readonly admission: WorkerAdmission,
  ) {}

  @Post('sites')
  @ApiOperation({ summary: 'Create a site: name, geofence centre and radius, time zone' })
  @Roles('admin')
  @ApiCreatedResponse({ type: CreateSiteResponse })
  @ApiResponse({ status: 400, type: ErrorBody, description: 'validation_failed, legacy_time_zone' })
  async createSite(@Body() body: CreateSiteDto): Promise<CreateSiteResponse> {
    const site = await this.workforce.createSite({
      name: body.name,
      geo: { lat: body.geo.lat, lng: body.geo.lng },
      radiusM: body.radiusM,
      timeZone: body.timeZone,
    });
    return { siteId: site.id, timeZone: site.timeZone! };
  }

  @Patch('sites/:siteId')
  @Roles('admin')
  @ApiOperation({
    summary: 'Rename a site or move its geofence (name, geo, radiusM; at least one)',
    description: [
      'Packets synced from then on are checked against the new geofence; accepted ones keep their findings.',
      '`timeZone` cannot be changed (400 time_zone_immutable): it would move every worker-day of the site to other local days.',
    ].join(' '),
  })
  @ApiOkResponse({ type: SiteView })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'validation_failed, time_zone_immutable',
  })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "site_tampered: the site's stored record was changed outside the server (nothing changed)",
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  @ChangeContended()
  async updateSite(
    @Param() params: SiteIdParam,
    @Body() body: UpdateSiteDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<SiteView> {
    if (body.timeZone !== undefined) {
      const message =
        "a site's time zone cannot be changed after creation: every worker-day, timesheet and payroll period of the site is a local day in it and would move; create a new site with the right time zone";
      throw new WorkforceError('time_zone_immutable', message, [{ field: 'timeZone', message }]);
    }
    const changes = given({
      name: body.name,
      geo: body.geo ? { lat: body.geo.lat, lng: body.geo.lng } : undefined,
      radiusM: body.radiusM,
    });
    const site = await this.workforce.updateSite(params.siteId, changes, actorOf(principal));
    return toSiteView(site);
  }

  @Get('sites')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'Sites in creation order, keyset paged (after = the last siteId)' })
  @ApiOkResponse({ type: [SiteView] })
  async listSites(@Query() query: WorkforcePageQuery): Promise<SiteView[]> {
    const sites = await this.workforce.listSites({
      limit: query.limit ?? 50,
      afterId: query.after,
    });
    return sites.map(toSiteView);
  }

  @Get('sites/:siteId')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'One site: its name, geofence and time zone' })
  @ApiOkResponse({ type: SiteView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  async getSite(@Param() params: SiteIdParam): Promise<SiteView> {
    return toSiteView(await this.workforce.getSite(params.siteId));
  }

  @Get('thekedars')
  @Roles('admin')
  @ApiOperation({ summary: 'Thekedars in creation order, keyset paged' })
  @ApiOkResponse({ type: [ThekedarView] })
  async listThekedars(@Query() query: WorkforcePageQuery): Promise<ThekedarView[]> {
    const page = { limit: query.limit ?? 50, afterId: query.after };
    return (await this.workforce.listThekedars(page)).map(toThekedarView);
  }

  @Get('thekedars/:thekedarId')
  @Roles('admin')
  @ApiOperation({ summary: 'One thekedar' })
  @ApiOkResponse({ type: ThekedarView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'thekedar_not_found' })
  async getThekedar(@Param() params: ThekedarIdParam): Promise<ThekedarView> {
    return toThekedarView(await this.workforce.getThekedar(params.thekedarId));
  }

  @Patch('thekedars/:thekedarId')
  @Roles('admin')
  @ApiOperation({
    summary: 'Set the sites a thekedar works on (all of them: the list replaces the one before)',
    description: [
      "The thekedar's signed requests (worker creation, timesheet reads and corrections) reach these sites only, from the next request on.",
      'Its workers keep their sites, devices and timesheets; an admin reads them as before.',
      'Each site must exist: 404 `site_not_found` lists each unknown siteId in `errors`.',
    ].join(' '),
  })
  @ApiOkResponse({ type: ThekedarView })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "thekedar_tampered: the thekedar's stored record was changed outside the server; site_tampered: a site named was (nothing changed)",
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'thekedar_not_found, site_not_found' })
  @ChangeContended()
  async updateThekedar(
    @Param() params: ThekedarIdParam,
    @Body() body: UpdateThekedarDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ThekedarView> {
    const thekedar = await this.workforce.updateThekedarSites(
      params.thekedarId,
      body.siteIds,
      actorOf(principal),
    );
    return toThekedarView(thekedar);
  }

  /** Admin only, as a worker's new code (a thekedar's own signature cannot vouch for a lost phone). */
  @Post('thekedars/:thekedarId/enrollment-code')
  @Roles('admin')
  @ApiOperation({
    summary: 'Issue a thekedar a new single-use enrollment code (a lost phone, an expired code)',
    description: [
      "The thekedar's earlier unused codes stop working. A phone registered already keeps its device,",
      'secret and tokens (block it with POST /api/v5/devices/:deviceId/block when it is lost).',
      'The code expires after ENROLLMENT_CODE_TTL_HOURS, as at creation.',
    ].join(' '),
  })
  @ApiCreatedResponse({ type: ThekedarEnrollmentCodeResponse })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'thekedar_not_found' })
  @ChangeContended()
  async issueThekedarEnrollmentCode(
    @Param() params: ThekedarIdParam,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ThekedarEnrollmentCodeResponse> {
    const issued = await this.workforce.issueEnrollment(
      'thekedar',
      params.thekedarId,
      actorOf(principal),
    );
    return {
      thekedarId: params.thekedarId,
      enrollmentCode: issued.enrollmentCode,
      expiresAt: issued.expiresAt.toISOString(),
    };
  }

  @Get('workers')
  @Roles('admin', 'auditor')
  @ApiOperation({
    summary: 'Workers in creation order, keyset paged, optionally of one site or one status',
  })
  @ApiOkResponse({ type: [WorkerView] })
  async listWorkers(@Query() query: ListWorkersQuery): Promise<WorkerView[]> {
    const page = {
      limit: query.limit ?? 50,
      afterId: query.after,
      siteId: query.siteId,
      status: query.status,
    };
    return (await this.workforce.listWorkers(page)).map(toWorkerView);
  }

  @Get('workers/:workerId')
  @ApiOperation({ summary: 'One worker by workerId, with its status, site and phone changes' })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: WorkerDetailView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'worker_not_found' })
  async getWorker(@Param() params: WorkerIdParam): Promise<WorkerDetailView> {
    const { worker, events } = await this.workforce.workerEvents(params.workerId);
    return { ...toWorkerView(worker), events: events.map(toWorkerEventView) };
  }

  @Patch('workers/:workerId')
  @Roles('admin')
  @ApiOperation({
    summary: "Change a worker's name, phone or sites (at least one)",
    description: [
      "`siteIds` replaces the worker's sites (1 to 50 existing sites, as at creation): a site added claims the phone there, a site removed releases it; the change is recorded in the worker's events.",
      "The worker's phones get the new sites in their next offline token (POST /api/v5/device/token); a packet for a removed site recorded after the change is refused (`site_not_allowed`) whatever token carries it; a punch recorded there before the change is still taken when the phone syncs later (a packet is judged by the sites the worker had when it was recorded, as docs/phone-client.md says), and packets accepted before stay in the ledger and the timesheets.",
      "A new `phone` (where the worker's pay goes) is recorded in the worker's events too (`phone_changed`: who, when, both numbers masked).",
      "An inactive worker's phone and sites change its record only: they are claimed when it is reactivated.",
    ].join(' '),
  })
  @ApiOkResponse({ type: WorkerView })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "worker_tampered: the worker's stored record was changed outside the server; site_tampered: a site named was (nothing changed)",
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'worker_not_found, site_not_found' })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      "worker_exists: another worker has the phone at one of the worker's (new) sites, or among its thekedar's workers; nothing changed",
  })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'Invalid input, or invalid_phone: the new phone is not a possible number',
  })
  @ChangeContended()
  async updateWorker(
    @Param() params: WorkerIdParam,
    @Body() body: UpdateWorkerDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerView> {
    const changes = given({ name: body.name, phone: body.phone, siteIds: body.siteIds });
    const worker = await this.workforce.updateWorker(params.workerId, changes, actorOf(principal));
    return toWorkerView(worker);
  }

  @Post('workers/:workerId/deactivate')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({
    summary: 'Deactivate a worker who left, with a reason',
    description: [
      'Its phones get no new offline token and their syncs are refused (403 worker_inactive), even under a token still valid; no phone registers for it and it gets no enrollment code.',
      "Its phone number is released at its sites and among its thekedar's workers: a new worker may have it. Its record, ledger history and timesheets stay.",
      'Recorded in its events; a worker inactive already is answered as it is.',
    ].join(' '),
  })
  @ApiOkResponse({ type: WorkerView })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "worker_tampered: the worker's stored record was changed outside the server (nothing changed)",
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'worker_not_found' })
  @ChangeContended()
  async deactivateWorker(
    @Param() params: WorkerIdParam,
    @Body() body: WorkerStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerView> {
    const worker = await this.workforce.setWorkerStatus(
      params.workerId,
      'inactive',
      body.reason,
      actorOf(principal),
    );
    return toWorkerView(worker);
  }

  @Post('workers/:workerId/reactivate')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({
    summary: 'Reactivate a worker who is back, with a reason',
    description: [
      "Its phones refresh tokens and sync again; its phone number is claimed again at its sites and among its thekedar's workers:",
      '409 worker_exists, nothing changed, when another worker has it meanwhile (change its phone or sites first: PATCH).',
      'Recorded in its events; a worker active already is answered as it is.',
    ].join(' '),
  })
  @ApiOkResponse({ type: WorkerView })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "worker_tampered: the worker's stored record was changed outside the server (nothing changed)",
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'worker_not_found' })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description: 'worker_exists: another worker has the phone at one of its sites meanwhile',
  })
  @ChangeContended()
  async reactivateWorker(
    @Param() params: WorkerIdParam,
    @Body() body: WorkerStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerView> {
    const worker = await this.workforce.setWorkerStatus(
      params.workerId,
      'active',
      body.reason,
      actorOf(principal),
    );
    return toWorkerView(worker);
  }

  /**
   * Admin only: a thekedar's signature covers the body, which is empty here, so a signed
   * request would not say which worker it is for.
   */
  @Post('workers/:workerId/enrollment-code')
  @Roles('admin')
  @ApiOperation({
    summary: 'Issue a worker a new single-use enrollment code (a lost phone, an expired code)',
    description: [
      "The worker's earlier unused codes stop working. A phone registered already keeps its device,",
      'secret and tokens. The code expires after ENROLLMENT_CODE_TTL_HOURS, as at creation.',
    ].join(' '),
  })
  @ApiCreatedResponse({ type: WorkerEnrollmentCodeResponse })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'worker_not_found' })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      'worker_inactive: the worker was deactivated (reactivate it first); worker_tampered: its stored record was changed outside the server',
  })
  @ChangeContended()
  async issueEnrollmentCode(
    @Param() params: WorkerIdParam,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerEnrollmentCodeResponse> {
    const issued = await this.workforce.issueEnrollment(
      'worker',
      params.workerId,
      actorOf(principal),
    );
    return {
      workerId: params.workerId,
      enrollmentCode: issued.enrollmentCode,
      expiresAt: issued.expiresAt.toISOString(),
    };
  }

  @Post('thekedars')
  @Roles('admin')
  @ApiOperation({
    summary: 'Create a thekedar (contractor), with an enrollment code for the phone',
    description: [
      "The phone is stored in E.164, as a worker's.",
      '`siteIds` names the sites the thekedar works on: its signed requests create workers and read timesheets there only (403 `site_not_allowed` elsewhere).',
      'Without it the thekedar works on no site until an admin names them (PATCH /api/v5/thekedars/:thekedarId).',
    ].join(' '),
  })
  @ApiCreatedResponse({ type: CreateThekedarResponse })
  @ApiResponse({
    status: 404,
    type: ErrorBody,
    description: 'site_not_found: `errors` lists each unknown siteId',
  })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'Invalid input, or invalid_phone: the phone is not a possible number',
  })
  async createThekedar(@Body() body: CreateThekedarDto): Promise<CreateThekedarResponse> {
    const created = await this.workforce.createThekedar({
      name: body.name,
      phone: body.phone,
      siteIds: body.siteIds,
    });
    return { ...created, expiresAt: created.expiresAt.toISOString() };
  }

  /**
   * `@Public()` for the global guard on purpose: either credential is accepted, and
   * OnboardingGuard checks it before the body is validated (the admin key through
   * ApiKeyService, or the thekedar's signature), so that refused signatures become fraud events.
   */
  @Post('workers')
  @Public()
  @UseGuards(OnboardingGuard)
  @ApiOperation({
    summary: 'Create a worker (admin key, or a thekedar-signed request)',
    description: [
      "Either `x-api-key` with an admin key, or a request signed by a thekedar's registered device:",
      "`x-thekedar-id`, `x-device-id` (the thekedar's device), `x-request-timestamp` (ISO-8601 UTC, e.g. `2026-03-01T09:30:00.000Z`, within ONBOARDING_SIGNATURE_MAX_SKEW_SECONDS (300) of server time) and",
      '`x-signature` = lowercase hex HMAC-SHA256, key = the device secret bytes (base64-decoded), message = UTF-8 of `<x-request-timestamp>.<JCS(body)>` (RFC 8785 of the JSON body as sent).',
      'A signature is single use: the same signed request again is refused (403 replayed_request).',
      "A thekedar creates workers at its own sites only (the thekedar's `siteIds`, named by an admin): any other site, an unknown one the same, is 403 `site_not_allowed` (`errors` lists each) and a `site_not_allowed` fraud event on the thekedar's device; nothing is stored.",
      "A thekedar-created worker stands on the thekedar device's trust score, at least TRUST_AUTO_BLOCK_FLOOR, until `trustInheritedUntil` (TRUST_INHERITANCE_DAYS, 30).",
      "The thekedar's device is judged by TRUST_AUTO_BLOCK_FLOOR here (it never syncs): under it, or blocked, the request is refused (403 device_blocked) and the device blocked.",
      'The phone is stored in E.164: a number without a country code (`98765 43210`, `098765 43210`) is one of PHONE_DEFAULT_COUNTRY (IN), `00` before a country code is read as `+`; a number too short or too long for its country is 400 `invalid_phone`.',
      "A phone number is one worker per site and one worker per thekedar: another worker with it at one of the sites, or among the thekedar's workers, answers 409 `worker_exists` (`errors` names the worker to an admin and to its own thekedar).",
      'A thekedar that sends its own onboarding again (a new signature, the same name, phone and sites: an answer lost on the way) gets 200 with that worker and a new enrollment code (the unused ones stop working), until a phone has registered with one.',
    ].join(' '),
  })
  @ApiThekedarSignatureHeaders(
    'hex HMAC-SHA256(device secret, `<x-request-timestamp>.<JCS(body)>`)',
  )
  @ApiCreatedResponse({ type: CreateWorkerResponse })
  @ApiOkResponse({
    type: CreateWorkerResponse,
    description: "A thekedar's repeated onboarding: the worker it created, a new enrollment code",
  })
  @ApiResponse({ status: 409, type: ErrorBody, description: 'worker_exists' })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "site_tampered: a site named has a stored record changed outside the server; thekedar_tampered: the signing thekedar's (nothing stored); device_blocked: the thekedar's device is blocked or its trust score is under TRUST_AUTO_BLOCK_FLOOR (then blocked)",
  })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'Invalid input, or invalid_phone: the phone is not a possible number',
  })
  @ChangeContended()
  async createWorker(
    @Body() body: CreateWorkerDto,
    @Onboarding() admitted: OnboardingSponsor,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreateWorkerResponse> {
    // a thekedar at its own sites only: refused before anything is stored (a phone claim too)
    await this.admission.admitSites(admitted, body.siteIds);
    const { worker, enrollmentCode, expiresAt, repeated } = await this.workforce.createWorker(
      { name: body.name, phone: body.phone, siteIds: body.siteIds },
      admitted.sponsor,
      admitted.inheritedTrust,
    );
    if (repeated) res.status(200);
    return {
      workerId: worker.id,
      enrollmentCode,
      expiresAt: expiresAt.toISOString(),
      trustScore: worker.trustScore,
      trustInheritedUntil: worker.trustInheritedUntil?.toISOString(),
    };
  }
}

/**
 * The fields of a change body that were given (null counts as absent, as at creation); a body
 * that names none is refused, since it would change nothing.
 */
function given<T extends object>(fields: T): Partial<T> {
  const out = Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && value !== null),
  ) as Partial<T>;
  if (Object.keys(out).length === 0) {
    const names = Object.keys(fields).join(', ');
    throw new CommonError('validation_failed', `Give at least one of ${names}`, [
      { field: 'body', message: `must name at least one of ${names}` },
    ]);
  }
  return out;
}

function toSiteView(site: Site): SiteView {
  return {
    siteId: site.id,
    name: site.name,
    geo: { lat: site.geo.lat, lng: site.geo.lng },
    radiusM: site.radiusM,
    timeZone: site.timeZone,
    createdAt: site.createdAt.toISOString(),
    ...(site.integrity ? { integrity: site.integrity } : {}),
  };
}

function toThekedarView(thekedar: Thekedar): ThekedarView {
  return {
    thekedarId: thekedar.id,
    name: thekedar.name,
    phone: thekedar.phone,
    trustScore: thekedar.trustScore,
    siteIds: [...thekedar.siteIds],
    createdAt: thekedar.createdAt.toISOString(),
    ...(thekedar.integrity ? { integrity: thekedar.integrity } : {}),
  };
}

function toWorkerView(worker: Worker): WorkerView {
  return {
    workerId: worker.id,
    name: worker.name,
    phone: worker.phone,
    siteIds: worker.siteIds,
    status: worker.status,
    statusChangedAt: worker.statusChangedAt?.toISOString(),
    trustScore: worker.trustScore,
    sponsorKind: worker.sponsor.kind,
    thekedarId: worker.sponsor.kind === 'thekedar' ? worker.sponsor.thekedarId : undefined,
    trustInheritedUntil: worker.trustInheritedUntil?.toISOString(),
    createdAt: worker.createdAt.toISOString(),
    ...(worker.integrity ? { integrity: worker.integrity } : {}),
  };
}

function toWorkerEventView(event: WorkerEvent): WorkerEventView {
  return {
    action: event.action,
    actor: event.actor,
    reason: event.reason,
    siteIds: event.siteIds,
    previousSiteIds: event.previousSiteIds,
    phone: event.phone,
    previousPhone: event.previousPhone,
    at: event.at.toISOString(),
  };
}
