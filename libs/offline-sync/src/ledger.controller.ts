import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Response } from 'express';
import { once } from 'node:events';
import { AppError, ErrorBody, Roles } from '@app/common';
import { WorkforceService } from '@app/device-trust';
import { LedgerCheckpointView, LedgerVerificationView, SiteIdParam } from './dto/ledger.dto';
import { LedgerService } from './ledger.service';

@ApiTags('ledger')
@ApiSecurity('api-key')
@ApiResponse({ status: 401, type: ErrorBody, description: 'Missing or unknown x-api-key' })
@ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
@Controller('api/v5/ledger')
export class LedgerController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly workforce: WorkforceService,
  ) {}

  @Get(':siteId/export')
  @Roles('admin', 'auditor')
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({
    description: 'One {siteId,seq,prevHash,recordHash,data,meta} JSON per line, in seq order',
  })
  async export(@Param() params: SiteIdParam, @Res() response: Response): Promise<void> {
    await this.requireSite(params.siteId);
    response.status(200).setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    for await (const line of this.ledger.exportChain(params.siteId)) {
      if (!response.write(line)) await once(response, 'drain');
    }
    response.end();
  }

  @Get(':siteId/verify')
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: LedgerVerificationView })
  async verify(@Param() params: SiteIdParam): Promise<LedgerVerificationView> {
    await this.requireSite(params.siteId);
    return this.ledger.verify(params.siteId);
  }

  @Get(':siteId/checkpoints')
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: [LedgerCheckpointView] })
  async checkpoints(@Param() params: SiteIdParam): Promise<LedgerCheckpointView[]> {
    await this.requireSite(params.siteId);
    return this.ledger.listCheckpoints(params.siteId);
  }

  private async requireSite(siteId: string): Promise<void> {
    if ((await this.workforce.findSites([siteId])).length === 0) {
      throw new AppError(404, 'site_not_found', 'No site has this siteId');
    }
  }
}
