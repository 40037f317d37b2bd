import { Controller, Get, Query } from '@nestjs/common';
import { ErrorBody, Roles, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@app/common';
import { BusUnavailableError } from '../bus/relay-bus';
import { ConnectedKiosksQuery, ConnectedKiosksView } from '../dto/connected-kiosks.dto';
import { KioskPresence } from './kiosk-presence';
import { RelayError } from '../relay.errors';

@ApiTags('relay')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller('api/v5/relay')
export class KioskPresenceController {
  constructor(private readonly presence: KioskPresence) {}

  @Get('kiosks/connected')
  @Roles('admin', 'provisioner')
  @ApiOperation({
    summary: 'Which of these kiosks are connected to a pairing session right now',
    description:
      'Read-only, for a page of the kiosk list: one request answers up to 100 kiosks. A kiosk counts once its socket has authenticated (`/ws/device`) and until it leaves; across instances through Redis. Unknown ids answer `connected: false`.',
  })
  @ApiOkResponse({ type: ConnectedKiosksView })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description: 'bus_unavailable: Redis does not answer',
  })
  async connected(@Query() query: ConnectedKiosksQuery): Promise<ConnectedKiosksView> {
    const ids = [...new Set(query.deviceId)];
    try {
      const connected = await this.presence.connected(ids);
      return { kiosks: ids.map((deviceId) => ({ deviceId, connected: connected.get(deviceId)! })) };
    } catch (error) {
      if (error instanceof BusUnavailableError)
        throw new RelayError('bus_unavailable', 'The relay is unavailable; try again later');
      throw error;
    }
  }
}
