import { Controller, Get, Param } from '@nestjs/common';
import { ErrorBody, Roles, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@app/common';
import { DeviceTrustService } from './device-trust.service';
import { DeviceTrustView } from './dto/device-trust.dto';
import { WorkerDeviceIdParam } from './dto/worker-device.dto';

@ApiTags('worker devices')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid deviceId' })
@Controller('api/v5')
export class DeviceTrustController {
  constructor(private readonly trust: DeviceTrustService) {}

  @Get('devices/:deviceId/trust')
  @Roles('admin')
  @ApiOperation({
    summary: "A worker device's trust score and the factors that made it",
    description:
      'The device score: baseline (own or inherited standing) + device age + fraud history, 0 when blocked. It is the score TRUST_AUTO_BLOCK_FLOOR judges: under the floor the device is blocked, whatever headers its syncs send (an unblocked device under it says why in its `block_state` factor: its next sync is refused 403 device_blocked, the signed request of a thekedar phone; or an admin unblocked it and the floor weighs only the fraud events since, on a baseline of at least the floor). Request factors (User-Agent, x-app-version, x-device-id, IP) apply to the requests the device sends (sync: `meta.deviceTrustScore`, `lowTrust`) and are not part of this view; they never lift a device over the floor, and their penalties count for it only in a sync that appended a packet of the device.',
  })
  @ApiOkResponse({ type: DeviceTrustView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  async get(@Param() params: WorkerDeviceIdParam): Promise<DeviceTrustView> {
    const report = await this.trust.report(params.deviceId);
    return {
      deviceId: report.deviceId,
      score: report.score,
      factors: report.factors.map((f) => ({ ...f })),
      computedAt: report.computedAt.toISOString(),
    };
  }
}
