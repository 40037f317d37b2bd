import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ErrorBody, Roles } from '@app/common';
import { FraudEvent } from './domain/fraud-event';
import { FraudEventView, ListFraudEventsQuery } from './dto/fraud-event.dto';
import { FraudService } from './fraud.service';

@ApiTags('fraud')
@ApiSecurity('api-key')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid filter' })
@ApiResponse({ status: 401, type: ErrorBody, description: 'Missing or unknown x-api-key' })
@Controller('api/v5/fraud')
export class FraudController {
  constructor(private readonly fraud: FraudService) {}

  @Get('events')
  @Roles('admin')
  @ApiOkResponse({ type: [FraudEventView], description: 'Newest first' })
  async list(@Query() query: ListFraudEventsQuery): Promise<FraudEventView[]> {
    const events = await this.fraud.list({
      type: query.type,
      deviceId: query.deviceId,
      workerId: query.workerId,
      siteId: query.siteId,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      limit: query.limit ?? 100,
    });
    return events.map(toView);
  }
}

function toView(e: FraudEvent): FraudEventView {
  return {
    id: e.id,
    type: e.type,
    deviceId: e.deviceId,
    workerId: e.workerId,
    siteId: e.siteId,
    packetId: e.packetId,
    detail: e.detail,
    at: e.at.toISOString(),
  };
}
