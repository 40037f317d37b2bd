import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  CurrentPrincipal,
  endOfBound,
  ErrorBody,
  Principal,
  Roles,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { decodeEventCursor, encodeEventCursor } from './domain/event-cursor';
import { FraudEvent, FraudReview } from './domain/fraud-event';
import {
  FraudEventDetailView,
  FraudEventIdParam,
  FraudEventView,
  FraudReviewView,
  ListFraudEventsQuery,
  ReviewFraudEventDto,
} from './dto/fraud-event.dto';
import { FraudService } from './fraud.service';

@ApiTags('fraud')
@ApiResponse({
  status: 400,
  type: ErrorBody,
  description: 'Invalid filter, cursor, id or body; invalid_period (`to` before `from`)',
})
@Controller('api/v5/fraud')
export class FraudController {
  constructor(private readonly fraud: FraudService) {}

  @Get('events')
  @ApiOperation({
    summary:
      'List fraud events, newest first, filtered by type, device, worker, site, time and review (cursor paged)',
  })
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
      // a day alone is the whole day (UTC), inclusive, as timesheets and payroll read `to`
      to: query.to ? endOfBound(query.to) : undefined,
      review: query.review,
      limit,
      before: query.cursor ? decodeEventCursor(query.cursor) : undefined,
    });
    if (events.length === limit)
      res.setHeader('x-next-cursor', encodeEventCursor(events[limit - 1]));
    return events.map(toView);
  }

  @Get('events/:eventId')
  @Roles('admin')
  @ApiOperation({ summary: 'One fraud event and every review of it, oldest first' })
  @ApiOkResponse({ type: FraudEventDetailView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'fraud_event_not_found' })
  async get(@Param() params: FraudEventIdParam): Promise<FraudEventDetailView> {
    const { event, reviews } = await this.fraud.detail(params.eventId);
    return { ...toView(event), reviews: reviews.map(toReviewView) };
  }

  @Post('events/:eventId/review')
  @Roles('admin')
  @ApiOperation({
    summary: 'Dismiss (a false positive) or confirm a fraud event, with a reason',
    description: [
      'Each review is kept in the event history (who: `<role>:<key id>`, when, decision, reason);',
      'the latest is the event `review`. A dismissed event no longer weighs on the device trust',
      'score (the next score leaves it out; a device already blocked stays blocked until an admin',
      'unblocks it); a confirmed one does. A later review changes the decision. The same decision',
      'and reason as the current review (a retry) answers 200 and records nothing.',
    ].join(' '),
  })
  @ApiCreatedResponse({ type: FraudEventDetailView, description: 'Review recorded' })
  @ApiOkResponse({
    type: FraudEventDetailView,
    description: 'Already the current review: nothing recorded',
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'fraud_event_not_found' })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'fraud_event_tampered: the event or its review history was changed outside the server (its integrity is tampered); nothing is recorded. fraud_review_contended (MongoDB): the review history kept changing while the review was written (other reviews at the same moment); nothing is recorded, retry',
  })
  async review(
    @Param() params: FraudEventIdParam,
    @Body() body: ReviewFraudEventDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FraudEventDetailView> {
    const outcome = await this.fraud.review(params.eventId, body.decision, body.reason, principal);
    res.status(outcome.recorded ? 201 : 200);
    const { event, reviews } = await this.fraud.detail(params.eventId);
    return { ...toView(event), reviews: reviews.map(toReviewView) };
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
    // a stored time that is not a date (a hand-edited or damaged row) is shown as null: one
    // bad row does not take the listing down
    at: Number.isNaN(e.at.getTime()) ? null : e.at.toISOString(),
    ...(e.punch
      ? {
          punch: {
            type: e.punch.type,
            at: Number.isNaN(e.punch.at.getTime()) ? null : e.punch.at.toISOString(),
            siteId: e.siteId,
          },
        }
      : {}),
    // the current review is part of the event's tag: its integrity is the event's
    review: e.review ? toReviewView({ ...e.review, integrity: e.integrity }) : undefined,
    // fails closed: an event read without its tag checked is not vouched for
    integrity: e.integrity ?? 'tampered',
  };
}

function toReviewView(r: FraudReview): FraudReviewView {
  return {
    decision: r.decision,
    reason: r.reason,
    by: r.by,
    // a stored time that is not a date: shown as null and marked tampered (never a 500)
    at: Number.isNaN(r.at.getTime()) ? null : r.at.toISOString(),
    ...(Number.isNaN(r.at.getTime())
      ? { integrity: 'tampered' }
      : r.integrity
        ? { integrity: r.integrity }
        : {}),
  };
}
