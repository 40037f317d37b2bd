import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, ErrorBody, Principal, Roles } from '@app/common';
import {
  CreateSiteDto,
  CreateSiteResponse,
  CreateThekedarDto,
  CreateThekedarResponse,
  CreateWorkerDto,
  CreateWorkerResponse,
} from './dto/workforce.dto';
import { actorOf } from './kiosk-registry.service';
import { WorkforceService } from './workforce.service';

@ApiTags('workforce')
@ApiSecurity('api-key')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@ApiResponse({ status: 401, type: ErrorBody, description: 'Missing or unknown x-api-key' })
@ApiResponse({ status: 403, type: ErrorBody, description: 'Key of another role' })
@Controller('api/v5')
export class WorkforceController {
  constructor(private readonly workforce: WorkforceService) {}

  @Post('sites')
  @Roles('admin')
  @ApiCreatedResponse({ type: CreateSiteResponse })
  async createSite(@Body() body: CreateSiteDto): Promise<CreateSiteResponse> {
    const site = await this.workforce.createSite({
      name: body.name,
      geo: { lat: body.geo.lat, lng: body.geo.lng },
      radiusM: body.radiusM,
    });
    return { siteId: site.id };
  }

  @Post('thekedars')
  @Roles('admin')
  @ApiCreatedResponse({ type: CreateThekedarResponse })
  async createThekedar(@Body() body: CreateThekedarDto): Promise<CreateThekedarResponse> {
    return this.workforce.createThekedar({ name: body.name, phone: body.phone });
  }

  /** Admin key for now; the thekedar-signed variant (x-thekedar-id, x-device-id, x-signature) is issue 6. */
  @Post('workers')
  @Roles('admin')
  @ApiCreatedResponse({ type: CreateWorkerResponse })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  async createWorker(
    @Body() body: CreateWorkerDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<CreateWorkerResponse> {
    const { worker, enrollmentCode } = await this.workforce.createWorker(
      { name: body.name, phone: body.phone, siteIds: body.siteIds },
      { kind: 'admin', actor: actorOf(principal) },
    );
    return {
      workerId: worker.id,
      enrollmentCode,
      trustScore: worker.trustScore,
      trustInheritedUntil: worker.trustInheritedUntil?.toISOString(),
    };
  }
}
