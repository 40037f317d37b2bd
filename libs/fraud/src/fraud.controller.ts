import { Controller, Get, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorBody, Roles, ApiOkResponse, ApiResponse, ApiSecurity, ApiTags } from '@app/common';
import { decodeEventCursor, encodeEventCursor } from './domain/event-cursor';
import { FraudEvent } from './domain/fraud-event';
import { FraudEventView, ListFraudEventsQuery } from './dto/fraud-event.dto';
import { FraudService } from './fraud.service';

@ApiTags('fraud')
@ApiSecurity('api-key')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid filter or cursor' })
@ApiResponse({ status: 401, type: ErrorBody, description: 'Missing or unknown x-api-key' })
@Controller('api/v5/fraud')
export class FraudController {
  constructor(private readonly fraud: FraudService) {}

  @Get('events')
  @Roles('admin')
  @ApiOkResponse({
    type: [FraudEventView],
    description:
      'Newest first. When the page is full, the x-next-cursor header holds the cursor of the next page (pass it as ?cursor=, with the same filters).',
    headers: {
      'x-next-cursor': { description: 'Cursor of the next page', schema: { type: 'string' } },
    },
  })
  async list(
    @Query() query: ListFraudEventsQuery,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FraudEventView[]> {
    const limit = query.limit ?? 100;
    const events = await this.fraud.list({
      type: query.type,
      deviceId: query.deviceId,
      workerId: query.workerId,
      siteId: query.siteId,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      limit,
      before: query.cursor ? decodeEventCursor(query.cursor) : undefined,
    });
    if (events.length === limit)
      res.setHeader('x-next-cursor', encodeEventCursor(events[limit - 1]));
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
