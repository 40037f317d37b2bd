import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { Response } from 'express';
import {
  CurrentPrincipal,
  ErrorBody,
  Principal,
  Roles,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { KioskDevice, KioskEvent } from './domain/kiosk-device';
import {
  DeviceIdParam,
  KioskEventView,
  KioskStatusChangeDto,
  KioskView,
  ListKiosksQuery,
  RegisterDeviceDto,
  RotateKeyDto,
  SuccessResponse,
} from './dto/kiosk.dto';
import { KioskRegistryService } from './kiosk-registry.service';

@ApiTags('kiosks')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller('api')
export class KioskController {
  constructor(private readonly registry: KioskRegistryService) {}

  @Post('register-device')
  @Roles('provisioner', 'admin')
  @ApiOperation({
    summary:
      "Register a kiosk's TrustZone RSA public key (201 new, 200 already registered with this key)",
  })
  @ApiResponse({ status: 201, type: SuccessResponse })
  @ApiResponse({ status: 200, type: SuccessResponse })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      'device_key_conflict: the device_id is registered with another key; public_key_in_use: another device_id has this key',
  })
  async register(
    @Body() body: RegisterDeviceDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SuccessResponse> {
    const outcome = await this.registry.register(body.device_id, body.public_key, principal);
    response.status(outcome === 'created' ? 201 : 200);
    return { success: true };
  }

  @Get('kiosks')
  @ApiOperation({ summary: 'List registered kiosks' })
  @Roles('admin', 'provisioner')
  @ApiOkResponse({ type: [KioskView] })
  async list(@Query() query: ListKiosksQuery): Promise<KioskView[]> {
    return (await this.registry.list(query.limit ?? 50, query.after, query.prefix)).map(toView);
  }

  @Get('kiosks/:device_id')
  @ApiOperation({ summary: 'One kiosk by its device_id' })
  @Roles('admin', 'provisioner')
  @ApiOkResponse({ type: KioskView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async get(@Param() params: DeviceIdParam): Promise<KioskView> {
    return toView(await this.registry.require(params.device_id));
  }

  @Get('kiosks/:device_id/events')
  @ApiOperation({
    summary: "A kiosk's audit events (its registration, key and status changes)",
  })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: [KioskEventView] })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async events(@Param() params: DeviceIdParam): Promise<KioskEventView[]> {
    await this.registry.require(params.device_id);
    return (await this.registry.listEvents(params.device_id)).map(toEventView);
  }

  @Post('kiosks/:device_id/rotate-key')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({
    summary: "Replace a kiosk's key (audited); its Wi-Fi challenges issued before are revoked",
  })
  @ApiOkResponse({ type: KioskView })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      'same_key: the key already registered (allowed when the kiosk reads `integrity: tampered`: rotating to its genuine key is the repair, and it comes out blocked); public_key_in_use: another kiosk has it',
  })
  async rotate(
    @Param() params: DeviceIdParam,
    @Body() body: RotateKeyDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<KioskView> {
    return toView(
      await this.registry.rotateKey(params.device_id, body.public_key, body.reason, principal),
    );
  }

  @Post('kiosks/:device_id/block')
  @ApiOperation({ summary: 'Block a kiosk, with a reason (audited)' })
  @HttpCode(200)
  @Roles('admin')
  @ApiOkResponse({ type: KioskView })
  async block(
    @Param() params: DeviceIdParam,
    @Body() body: KioskStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<KioskView> {
    return toView(
      await this.registry.setStatus(params.device_id, 'blocked', body.reason, principal),
    );
  }

  @Post('kiosks/:device_id/unblock')
  @ApiOperation({ summary: 'Unblock a kiosk, with a reason (audited)' })
  @HttpCode(200)
  @Roles('admin')
  @ApiOkResponse({ type: KioskView })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      "kiosk_tampered: the kiosk's stored key or status does not verify (`integrity: tampered`): rotate its key to the kiosk's genuine key first, then unblock it",
  })
  async unblock(
    @Param() params: DeviceIdParam,
    @Body() body: KioskStatusChangeDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<KioskView> {
    return toView(
      await this.registry.setStatus(params.device_id, 'active', body.reason, principal),
    );
  }
}

function toView(device: KioskDevice): KioskView {
  return {
    device_id: device.deviceId,
    key_fingerprint: device.keyFingerprint,
    status: device.status,
    created_at: device.createdAt.toISOString(),
    updated_at: device.updatedAt.toISOString(),
    integrity: device.integrity ?? 'verified',
  };
}

function toEventView(event: KioskEvent): KioskEventView {
  return {
    action: event.action,
    actor: event.actor,
    reason: event.reason,
    key_fingerprint: event.keyFingerprint,
    previous_key_fingerprint: event.previousKeyFingerprint,
    at: event.at.toISOString(),
  };
}
