import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
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
import { WorkerDevice, WorkerDeviceEvent } from './domain/worker-device';
import {
  ListWorkerDevicesQuery,
  RegisterWorkerDeviceDto,
  RegisterWorkerDeviceResponse,
  WorkerDeviceDetailView,
  WorkerDeviceEventView,
  WorkerDeviceIdParam,
  WorkerDeviceStatusChangeDto,
  WorkerDeviceView,
} from './dto/worker-device.dto';
import { PublicJwk, SigningKeyService } from './token/signing-key.service';
import { WorkerDeviceService } from './worker-device.service';
import { TokenRefreshService } from './token-refresh.service';
import { DeviceTrustService } from './device-trust.service';
import { RefreshOfflineTokenDto, RefreshOfflineTokenResponse } from './dto/token-refresh.dto';

// no controller-wide 400: the JWKS takes no input (each other route's 400 comes from its body or DTO)
/** The largest page of `GET /api/v5/devices?trust=live`. */
export const LIVE_TRUST_PAGE_MAX = 100;

@ApiTags('worker devices')
@Controller('api/v5')
export class WorkerDeviceController {
  constructor(
    private readonly devices: WorkerDeviceService,
    private readonly signingKey: SigningKeyService,
    private readonly refresher: TokenRefreshService,
    private readonly trust: DeviceTrustService,
  ) {}

  @Post('device/register')
  @Public()
  @ApiOperation({
    summary: 'A worker phone trades its single-use enrollment code for a device identity',
  })
  @ApiCreatedResponse({ type: RegisterWorkerDeviceResponse })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "invalid_enrollment_code, worker_inactive (the worker was deactivated), worker_tampered (the worker's record was changed outside the server), thekedar_tampered (the thekedar's record was)",
  })
  async register(@Body() body: RegisterWorkerDeviceDto): Promise<RegisterWorkerDeviceResponse> {
    const result = await this.devices.register(body.enrollmentCode, body.fingerprint);
    return {
      deviceId: result.device.deviceId,
      deviceSecret: result.deviceSecret,
      trustScore: result.device.trustScore,
      offlineToken: result.offlineToken,
      offlineTokenExpiresAt: result.offlineTokenExpiresAt.toISOString(),
    };
  }

  @Post('device/token')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'A phone refreshes its offline token by proving its device secret',
    description: [
      'Body: `deviceId`, `timestamp` (ISO-8601 UTC within SYNC_MAX_CLOCK_SKEW_SECONDS of server time) and',
      '`signature` = lowercase hex HMAC-SHA256 with the device secret bytes over UTF-8 `mdai.token-refresh.<deviceId>.<timestamp>`.',
      "Each signature works once. The new token covers the same device and worker, and the worker's sites as they are now (an admin may have changed them), from now on;",
      'the old one stays valid until it expires, so keep it until the packets recorded under it are synced (a packet for a site the worker no longer has is refused under any token).',
      "A deactivated worker's phone gets no token (403 worker_inactive).",
    ].join(' '),
  })
  @ApiOkResponse({ type: RefreshOfflineTokenResponse })
  @ApiResponse({ status: 401, type: ErrorBody, description: 'invalid_signature, stale_request' })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description: 'replayed_request, device_blocked, worker_inactive, worker_tampered',
  })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'key_unavailable: the device secret is sealed under a master key version this server does not hold (a replica not restarted after a VAULT_KEYS change); retry later',
  })
  async refreshToken(@Body() body: RefreshOfflineTokenDto): Promise<RefreshOfflineTokenResponse> {
    const refreshed = await this.refresher.refresh(body);
    return {
      offlineToken: refreshed.token,
      offlineTokenExpiresAt: refreshed.expiresAt.toISOString(),
      syncGraceEndsAt: refreshed.graceEndsAt.toISOString(),
    };
  }

  @Get('.well-known/jwks.json')
  @Public()
  @ApiOperation({ summary: 'Public keys that verify offline tokens and ledger checkpoints' })
  jwks(): { keys: PublicJwk[] } {
    return this.signingKey.jwks();
  }

  @Get('devices')
  @Roles('admin')
  @ApiOperation({
    summary: 'Worker phones in deviceId order, keyset paged, optionally of one worker',
    description:
      'Each with the score of its registration (`trustScore`); with `trust=live`, also its score now (`liveTrustScore`).',
  })
  @ApiOkResponse({ type: [WorkerDeviceView] })
  async list(@Query() query: ListWorkerDevicesQuery): Promise<WorkerDeviceView[]> {
    const limit = query.limit ?? 50;
    if (query.trust === 'live' && limit > LIVE_TRUST_PAGE_MAX) {
      // each device's score reads its history (up to 100 events of each type): a bounded page of them
      throw new CommonError('validation_failed', 'The request is invalid', [
        {
          field: 'limit',
          message: `must not be greater than ${LIVE_TRUST_PAGE_MAX} with trust=live`,
        },
      ]);
    }
    const devices = await this.devices.list(limit, query.after, query.workerId);
    if (query.trust !== 'live') return devices.map(toView);
    const scores = await this.trust.scoreAll(devices);
    return devices.map((d) => ({ ...toView(d), liveTrustScore: scores.get(d.deviceId)!.score }));
  }

  @Get('devices/:deviceId')
  @ApiOperation({ summary: 'One worker phone, with its block and unblock history' })
  @Roles('admin')
  @ApiOkResponse({ type: WorkerDeviceDetailView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async get(@Param() params: WorkerDeviceIdParam): Promise<WorkerDeviceDetailView> {
    const { device, events } = await this.devices.detail(params.deviceId);
    return { ...toView(device), events: events.map(toEventView) };
  }

  @Post('devices/:deviceId/block')
  @ApiOperation({ summary: 'Block a worker phone, with a reason (its syncs are refused)' })
  @HttpCode(200)
  @Roles('admin')
  @ApiOkResponse({ type: WorkerDeviceView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async block(
    @Param() params: WorkerDeviceIdParam,
    @Body() body: WorkerDeviceStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerDeviceView> {
    return toView(await this.devices.setBlocked(params.deviceId, true, body.reason, principal));
  }

  @Post('devices/:deviceId/unblock')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({
    summary: 'Unblock a worker phone, with a reason',
    description:
      'The unblock holds: the auto-block floor then weighs only the fraud events recorded after it (the trust score shown still counts them all)',
  })
  @ApiOkResponse({ type: WorkerDeviceView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async unblock(
    @Param() params: WorkerDeviceIdParam,
    @Body() body: WorkerDeviceStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WorkerDeviceView> {
    return toView(await this.devices.setBlocked(params.deviceId, false, body.reason, principal));
  }
}

function toView(device: WorkerDevice): WorkerDeviceView {
  return {
    deviceId: device.deviceId,
    user: { kind: device.user.kind, id: device.user.id },
    siteIds: device.siteIds,
    fingerprint: { ...device.fingerprint },
    trustScore: device.trustScore,
    isBlocked: device.isBlocked,
    blockIntegrity: device.blockIntegrity ?? 'verified',
    lastSeen: device.lastSeen?.toISOString(),
    createdAt: device.createdAt.toISOString(),
  };
}

function toEventView(event: WorkerDeviceEvent): WorkerDeviceEventView {
  return {
    action: event.action,
    actor: event.actor,
    reason: event.reason,
    // a time changed in the database into no date is shown, not thrown (the event is tampered)
    at: Number.isNaN(event.at.getTime()) ? 'invalid' : event.at.toISOString(),
    integrity: event.integrity ?? 'verified',
  };
}
