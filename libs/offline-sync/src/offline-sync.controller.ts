import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorBody, Public } from '@app/common';
import { SyncRequestDto, SyncResponse } from './dto/sync.dto';
import { OfflineSyncService } from './offline-sync.service';

@ApiTags('offline sync')
@Controller('api/v5')
export class OfflineSyncController {
  constructor(private readonly sync: OfflineSyncService) {}

  /** `@Public()`: no API key; the offline token in Authorization is the credential. */
  @Post('sync')
  @Public()
  @HttpCode(200)
  @ApiBearerAuth('offline-token')
  @ApiOperation({ summary: 'Sync a batch of HMAC-signed offline attendance packets' })
  @ApiOkResponse({ type: SyncResponse })
  @ApiResponse({ status: 401, type: ErrorBody, description: 'missing_token' })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description: 'invalid_token, unknown_device, device_blocked, invalid_signatures',
  })
  @ApiResponse({ status: 413, type: ErrorBody, description: 'too_many_packets, payload_too_large' })
  async syncBatch(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: SyncRequestDto,
  ): Promise<SyncResponse> {
    return this.sync.sync(authorization, body.packets);
  }
}
