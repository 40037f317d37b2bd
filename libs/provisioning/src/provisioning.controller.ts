import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { Request, Response } from 'express';
import {
  appConfig,
  AppSettings,
  CurrentPrincipal,
  ErrorBody,
  Principal,
  Public,
  publicBaseUrl,
  QrFormatQuery,
  Roles,
  sendQr,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@app/common';
import {
  ChallengeIdParam,
  ChallengeStateView,
  GenerateChallengeDto,
  GenerateChallengeResponse,
  ValidateChallengeDto,
  ValidateChallengeResponse,
} from './dto/provisioning.dto';
import { ProvisioningService } from './provisioning.service';

@ApiTags('provisioning')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller('api')
export class ProvisioningController {
  private readonly publicUrl?: string;

  constructor(
    private readonly provisioning: ProvisioningService,
    @Inject(appConfig.KEY) app: AppSettings,
  ) {
    this.publicUrl = app.publicUrl;
  }

  @Post('generate-challenge')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Issue a Wi-Fi challenge QR for a registered kiosk' })
  @ApiResponse({ status: 200, type: GenerateChallengeResponse })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description:
      'Invalid input; invalid_wifi_password: not empty, 8-63 printable ASCII characters, or 64 hex digits (what WPA2 takes)',
  })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'device_not_found' })
  @ApiResponse({ status: 403, type: ErrorBody, description: 'device_blocked' })
  async generate(
    @Body() body: GenerateChallengeDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: Request,
  ): Promise<GenerateChallengeResponse> {
    const issued = await this.provisioning.generate(
      body.device_id,
      body.wifi_ssid,
      body.wifi_password,
      principal,
    );
    return {
      success: true,
      qr_payload: { bson_id: issued.id, challenge: issued.challenge },
      expires_at: issued.expiresAt.toISOString(),
      qr_url: `${publicBaseUrl(this.publicUrl, request)}/api/challenges/${issued.id}/qr?format=png`,
    };
  }

  @Post('validate-challenge')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'Exchange the decrypted challenge for the Wi-Fi credentials (single use)',
  })
  @ApiResponse({ status: 200, type: ValidateChallengeResponse })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description:
      'Invalid input; invalid_challenge_response: challenge_response does not decode to the 32 bytes of a challenge',
  })
  @ApiResponse({
    status: 403,
    type: ErrorBody,
    description: 'device_blocked: the kiosk is blocked or no longer registered (the right answer)',
  })
  @ApiResponse({
    status: 401,
    type: ErrorBody,
    description:
      'challenge_mismatch: a wrong answer, or an unknown id, or any answer but the right one to a used, locked or expired challenge (one answer for all, so it tells nothing of which ids exist)',
  })
  @ApiResponse({ status: 409, type: ErrorBody, description: 'challenge_used (the right answer)' })
  @ApiResponse({
    status: 410,
    type: ErrorBody,
    description:
      "challenge_expired, or challenge_revoked: the kiosk's key was rotated, or the kiosk blocked, after the challenge was issued (the right answer)",
  })
  @ApiResponse({
    status: 423,
    type: ErrorBody,
    description: 'challenge_locked (the right answer, after 5 wrong ones)',
  })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      "key_unavailable: the Wi-Fi password is sealed under a master key version this server's VAULT_KEYS does not hold (another replica or a reseal uses a newer VAULT_KEYS; the right answer). The challenge stays open: retry. storage_unavailable / store_unavailable: the store failed after the right answer marked the challenge used; it is given back (open again: retry). challenge_spent_unreleased: giving it back failed too; it stays used and nothing was released: ask for a new challenge",
  })
  async validate(@Body() body: ValidateChallengeDto): Promise<ValidateChallengeResponse> {
    const credentials = await this.provisioning.validate(body.bson_id, body.challenge_response);
    return { success: true, wifi_credentials: credentials };
  }

  @Get('challenges/:bson_id')
  @Roles('admin')
  @ApiOperation({
    summary: "A challenge's state (waiting, used, locked, expired); never its answer or password",
  })
  @ApiResponse({ status: 200, type: ChallengeStateView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'challenge_not_found' })
  async state(@Param() params: ChallengeIdParam): Promise<ChallengeStateView> {
    const c = await this.provisioning.state(params.bson_id);
    return {
      bson_id: c.id,
      device_id: c.deviceId,
      wifi_ssid: c.wifiSsid,
      state: c.state,
      wrong_attempts: c.wrongAttempts,
      max_attempts: c.maxAttempts,
      created_at: c.createdAt.toISOString(),
      expires_at: c.expiresAt.toISOString(),
      used_at: c.usedAt?.toISOString(),
    };
  }

  @Get('challenges/:bson_id/qr')
  @Roles('admin')
  @ApiProduces('image/png', 'image/svg+xml')
  @ApiOperation({ summary: "The challenge's QR (the JSON of qr_payload) as PNG or SVG" })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'challenge_not_found' })
  async qr(
    @Param() params: ChallengeIdParam,
    @Query() query: QrFormatQuery,
    @Res() response: Response,
  ): Promise<void> {
    const payload = await this.provisioning.qrPayload(params.bson_id);
    await sendQr(response, payload, query.format, { margin: 2 });
  }
}
