import { Body, Controller, Headers, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ErrorBody,
  HandlerCredential,
  Public,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  sendJson,
} from '@app/common';
import { SyncQuery, SyncRequestDto, SyncResponse } from './dto/sync.dto';
import { checkSyncRequest } from './dto/sync-request.check';
import { OFFLINE_TOKEN_ACCESS, OfflineSyncService } from './offline-sync.service';

@ApiTags('offline sync')
@Controller('api/v5')
export class OfflineSyncController {
  constructor(private readonly sync: OfflineSyncService) {}

  /** `@Public()`: no API key; the offline token in Authorization is the credential. */
  @Post('sync')
  @Public()
  @HandlerCredential(OFFLINE_TOKEN_ACCESS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Sync a batch of HMAC-signed offline attendance packets' })
  @ApiHeader({
    name: 'x-app-version',
    required: false,
    description: 'Worker app version; below TRUST_MIN_APP_VERSION lowers the trust score',
  })
  @ApiHeader({
    name: 'x-device-id',
    required: false,
    description: "The phone's deviceId; another device than the token's lowers the trust score",
  })
  @ApiBody({ type: SyncRequestDto })
  @ApiOkResponse({ type: SyncResponse })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description:
      "invalid_signatures; thekedar_device: the token is a thekedar's phone's, which records no attendance (the batch is refused whole, no fraud event, its trust untouched)",
  })
  @ApiResponse({ status: 413, type: ErrorBody, description: 'too_many_packets, payload_too_large' })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'site_tampered: a site of the batch has a stored record changed outside the server (its geofence cannot be screened): nothing of the batch is stored; keep the packets and retry after the `Retry-After` header (seconds); ' +
      "ledger_unauthenticated_entry: a site's ledger holds a row the server did not write, or one whose key copy was changed (nothing of the batch is appended; retry later); " +
      'checkpoint_unavailable: the packets are stored but their checkpoint could not be signed (send the same batch again for receipts); ' +
      "sync_screen_unfinished: the accepted packets are in the ledger, but the store failed while the batch's fraud events (its refusals and the pattern rules' findings, one write: none of them kept) were written: send the same batch again (the accepted ones come back duplicate, on MongoDB accepted: treat both alike; the refusals are recorded then, once); " +
      'storage_unavailable, store_unavailable: the store failed: send the batch again (packets already stored come back duplicate, or accepted after a MongoDB batch cut short: treat both alike); for a batch whose every packet carries a bad signature, its fraud events could not be written: nothing of it was kept',
  })
  @ApiResponse({
    status: 507,
    type: ErrorBody,
    description:
      "storage_full: the server's disk is full; for a batch whose every packet carries a bad signature, its fraud events could not be written: nothing of it was kept, send it again later",
  })
  async syncBatch(
    @Headers('authorization') authorization: string | undefined,
    // not typed as the DTO: the global ValidationPipe leaves it to checkSyncRequest, which
    // answers the same 400s without walking 500 packets through class-transformer
    @Body() body: unknown,
    @Req() req: Request,
    @Query() query: SyncQuery,
    // the answer (~1 KiB of receipt per packet) is written by sendJson: the bytes and headers
    // of res.json, without building the whole answer as one string and then one fresh Buffer
    @Res() res: Response,
  ): Promise<void> {
    const outcome: SyncResponse = await this.sync.sync(
      authorization,
      checkSyncRequest(body, this.sync.maxPacketsPerBatch).packets,
      {
        userAgent: headerOf(req, 'user-agent'),
        appVersion: headerOf(req, 'x-app-version'),
        deviceIdHeader: headerOf(req, 'x-device-id'),
        ip: req.ip,
      },
      undefined,
      { receipts: query.receipts !== 'false' },
    );
    sendJson(res, 200, outcome);
  }
}

function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first ? first.slice(0, 300) : undefined;
}
