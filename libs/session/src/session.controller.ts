import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { Request, Response } from 'express';
import {
  ApiKeyService,
  bearerToken,
  appConfig,
  AppSettings,
  AuthError,
  ErrorBody,
  HandlerCredential,
  Public,
  publicBaseUrl,
  QrFormatQuery,
  Roles,
  sendQr,
  toWebSocketUrl,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@app/common';
import {
  LegacyAuthDto,
  LegacyAuthResponse,
  OpenMobileSessionDto,
  OpenMobileSessionResponse,
  SessionQrPayload,
} from './dto/session.dto';
import { SESSION_TOKEN_ACCESS, SessionTokenService, TokenCheck } from './session-token.service';
import { SessionService } from './session.service';
import { SessionError } from './session.errors';

@ApiTags('sessions')
@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller()
export class SessionController {
  private readonly publicUrl?: string;

  constructor(
    private readonly sessions: SessionService,
    private readonly tokens: SessionTokenService,
    private readonly apiKeys: ApiKeyService,
    @Inject(appConfig.KEY) app: AppSettings,
  ) {
    this.publicUrl = app.publicUrl;
  }

  @Post('api/auth/mobile')
  @Roles('mobile')
  @ApiOperation({
    summary: 'Open a pairing session for a user; the phone shows qr_payload as a QR',
  })
  @ApiResponse({ status: 201, type: OpenMobileSessionResponse })
  async openMobile(
    @Body() body: OpenMobileSessionDto,
    @Req() request: Request,
  ): Promise<OpenMobileSessionResponse> {
    const opened = await this.sessions.openMobileSession(body.user_id, body.platform_id);
    return {
      token: opened.mobileToken,
      session_id: opened.session.id,
      expires_at: opened.session.expiresAt.toISOString(),
      qr_payload: this.qrPayload(opened.session.id, opened.deviceToken, request),
    };
  }

  @Get('api/sessions/qr')
  @Public()
  @HandlerCredential(SESSION_TOKEN_ACCESS)
  @ApiResponse({ status: 404, type: ErrorBody, description: 'session_not_found' })
  @ApiProduces('image/png', 'image/svg+xml')
  @ApiOperation({
    summary: "The session's QR (qr_payload) as PNG or SVG; Authorization: Bearer <mobile token>",
    description:
      'Each call mints a new kiosk token for the session (a new `jti` and `iat`, the same ' +
      'session and expiry), so two calls give two different QR codes; either opens ' +
      '`/ws/device` for this session, and the session still takes one kiosk socket (a second ' +
      'kiosk is refused `already_connected`).',
  })
  async qr(
    @Headers('authorization') authorization: string | undefined,
    @Query() query: QrFormatQuery,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const token = bearerToken(authorization);
    const check = this.tokens.check(token, ['mobile']);
    if (!check.ok) throw new SessionError(check.code, httpMessage(check, token));
    const session = await this.sessions.find(check.sessionId);
    if (!session) throw new SessionError('session_not_found', 'The session does not exist');
    const payload = JSON.stringify(
      this.qrPayload(session.id, this.sessions.deviceTokenFor(session), request),
    );
    await sendQr(response, payload, query.format);
  }

  @Post('auth')
  @Public()
  @HttpCode(200)
  @ApiTags('legacy')
  @ApiOperation({
    summary: 'Legacy kiosk login: a token for /ws/hardware and /ws/app (fielded hardware)',
  })
  @ApiResponse({ status: 200, type: LegacyAuthResponse })
  @ApiResponse({
    status: 401,
    type: ErrorBody,
    description: 'unauthorized: `api_key` in the body is not a hardware key',
  })
  async legacyAuth(@Body() body: LegacyAuthDto): Promise<LegacyAuthResponse> {
    if (!this.apiKeys.hasRole(body.api_key, 'hardware')) {
      throw new AuthError('unauthorized', 'The api_key is not a hardware key');
    }
    const opened = await this.sessions.openLegacySession();
    return { token: opened.token, expires_in: opened.expiresInSeconds };
  }

  private qrPayload(sessionId: string, deviceToken: string, request: Request): SessionQrPayload {
    const base = toWebSocketUrl(publicBaseUrl(this.publicUrl, request));
    return {
      type: 'session',
      session_id: sessionId,
      token: deviceToken,
      ws_device_url: `${base}/ws/device`,
    };
  }
}

/**
 * `check`'s words are the sockets' (`?token=`, "this socket"); this route reads the token from
 * the Authorization header, and says so.
 */
function httpMessage(check: TokenCheck & { ok: false }, token: string | undefined): string {
  if (check.code === 'wrong_token_type') {
    return "This route takes the phone's mobile token; the QR's token opens only /ws/device";
  }
  if (check.code === 'not_authenticated' && !token) {
    return 'Authorization: Bearer <mobile token> is required';
  }
  return check.message;
}
