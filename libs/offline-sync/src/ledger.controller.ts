import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { Response } from 'express';
import { once } from 'node:events';
import {
  ErrorBody,
  Roles,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { WorkforceService } from '@app/workforce';
import {
  CheckpointView,
  ConsistencyProofView,
  ConsistencyQuery,
  toCheckpointView,
} from '@app/tlog';
import {
  CheckpointListQuery,
  InclusionProofView,
  InclusionQuery,
  LedgerExportQuery,
  LedgerVerificationView,
  SiteIdParam,
} from './dto/ledger.dto';
import { LedgerService } from './ledger.service';
import { OfflineSyncError } from './offline-sync.errors';

@ApiTags('ledger')
@ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
@Controller('api/v5/ledger')
export class LedgerController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly workforce: WorkforceService,
  ) {}

  @Get(':siteId/export')
  @ApiOperation({
    summary: "Export a site's attendance chain as NDJSON, one link per line in seq order",
  })
  @Roles('admin', 'auditor')
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({
    description:
      'One {siteId,seq,prevHash,recordHash,data,meta} JSON per line, in seq order; sent as a ' +
      'download (Content-Disposition: attachment; filename="ledger-<siteId>.ndjson")',
  })
  async export(
    @Param() params: SiteIdParam,
    // no parameter taken: one sent is refused (400 validation_failed), never ignored
    @Query() _query: LedgerExportQuery,
    @Res() response: Response,
  ): Promise<void> {
    await this.requireSite(params.siteId);
    response.status(200).setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    response.setHeader(
      'content-disposition',
      `attachment; filename="ledger-${params.siteId}.ndjson"`,
    );
    // lines go out in ~64 KiB writes (one write per line cost more than the line itself)
    let chunk = '';
    for await (const line of this.ledger.exportChain(params.siteId)) {
      chunk += line;
      if (chunk.length < 65_536) continue;
      const ok = response.write(chunk);
      chunk = '';
      if (!ok) await once(response, 'drain');
    }
    response.end(chunk);
  }

  @Get(':siteId/verify')
  @ApiOperation({ summary: "Verify a site's hash chain, Merkle root and signed checkpoints" })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: LedgerVerificationView })
  async verify(@Param() params: SiteIdParam): Promise<LedgerVerificationView> {
    await this.requireSite(params.siteId);
    return this.ledger.verify(params.siteId);
  }

  @Get(':siteId/checkpoint')
  @ApiOperation({ summary: "The latest signed checkpoint of a site's log" })
  @Roles('admin', 'auditor')
  @ApiOkResponse({
    type: CheckpointView,
    description: 'The latest signed checkpoint of the site log',
  })
  @ApiResponse({
    status: 404,
    type: ErrorBody,
    description: 'site_not_found; checkpoint_not_found: nothing appended yet',
  })
  async latest(@Param() params: SiteIdParam): Promise<CheckpointView> {
    await this.requireSite(params.siteId);
    const checkpoint = await this.ledger.latestCheckpoint(params.siteId);
    if (!checkpoint) {
      throw new OfflineSyncError('checkpoint_not_found', 'This site has no signed checkpoint yet');
    }
    return toCheckpointView(checkpoint);
  }

  @Get(':siteId/checkpoints')
  @ApiOperation({ summary: "A site's signed checkpoints, by tree size (paged)" })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: [CheckpointView] })
  async checkpoints(
    @Param() params: SiteIdParam,
    @Query() query: CheckpointListQuery,
  ): Promise<CheckpointView[]> {
    await this.requireSite(params.siteId);
    const list = await this.ledger.listCheckpoints(
      params.siteId,
      query.after ?? 0,
      query.limit ?? 100,
    );
    return list.map(toCheckpointView);
  }

  @Get(':siteId/proof/inclusion')
  @ApiOperation({
    summary: "Prove one link (by seq or packetId) is in a site's log (RFC 9162 inclusion proof)",
  })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: InclusionProofView })
  @ApiResponse({ status: 400, type: ErrorBody, description: 'invalid_proof_request' })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found, link_not_found' })
  async inclusion(
    @Param() params: SiteIdParam,
    @Query() query: InclusionQuery,
  ): Promise<InclusionProofView> {
    await this.requireSite(params.siteId);
    if ((query.seq === undefined) === (query.packetId === undefined)) {
      throw new OfflineSyncError('invalid_proof_request', 'Give exactly one of seq and packetId');
    }
    if ((query.deviceId === undefined) !== (query.packetId === undefined)) {
      // a packetId is unique per device: it names a link only with its device
      throw new OfflineSyncError('invalid_proof_request', 'packetId and deviceId go together');
    }
    const link = await this.ledger.findLink(params.siteId, query);
    if (!link) throw new OfflineSyncError('link_not_found', 'No link of this site matches');
    const latest = await this.latestSize(params.siteId);
    const treeSize = query.treeSize ?? latest;
    if (treeSize < link.seq || treeSize > latest) {
      throw new OfflineSyncError(
        'invalid_proof_request',
        `treeSize must be between the link's seq (${link.seq}) and the latest checkpoint (${latest})`,
      );
    }
    const receipt = await this.ledger.inclusionProof(params.siteId, link, treeSize);
    const checkpoint = await this.ledger.checkpointAt(params.siteId, treeSize);
    return {
      origin: this.ledger.originOf(params.siteId),
      ...receipt,
      recordHash: link.recordHash,
      checkpoint: checkpoint?.note,
    };
  }

  @Get(':siteId/proof/consistency')
  @ApiOperation({
    summary:
      "Prove a smaller tree of a site's log is a prefix of a larger one (RFC 9162 consistency proof)",
  })
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: ConsistencyProofView })
  @ApiResponse({ status: 400, type: ErrorBody, description: 'invalid_proof_request' })
  async consistency(
    @Param() params: SiteIdParam,
    @Query() query: ConsistencyQuery,
  ): Promise<ConsistencyProofView> {
    await this.requireSite(params.siteId);
    const latest = await this.latestSize(params.siteId);
    if (query.first > query.second || query.second > latest) {
      throw new OfflineSyncError(
        'invalid_proof_request',
        `Need 1 ≤ first ≤ second ≤ the latest checkpoint's size (${latest})`,
      );
    }
    const proof = await this.ledger.consistencyProof(params.siteId, query.first, query.second);
    return {
      origin: this.ledger.originOf(params.siteId),
      first: query.first,
      second: query.second,
      proof: proof.map((h) => h.toString('base64')),
    };
  }

  private async latestSize(siteId: string): Promise<number> {
    return (await this.ledger.latestCheckpoint(siteId))?.size ?? 0;
  }

  private async requireSite(siteId: string): Promise<void> {
    if ((await this.workforce.findSites([siteId])).length === 0) {
      throw new OfflineSyncError('site_not_found', 'No site has this siteId');
    }
  }
}
