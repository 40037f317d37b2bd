import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import { Response } from 'express';
import { appConfig, AppSettings, Public, ApiExcludeController } from '@app/common';
import { CONSOLE_CSP, ConsoleAsset, loadConsoleAssets } from './console-assets';
import { ConsoleError } from './console.errors';

/**
 * Serves the operator console (a static single-page app built by `npm run build` from
 * apps/console) under a strict Content-Security-Policy. The console itself holds no secret and
 * calls only the documented API with the key the operator pastes in.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly assets: Map<string, ConsoleAsset>;

  constructor(@Inject(appConfig.KEY) app: AppSettings) {
    this.assets = loadConsoleAssets(app.consoleDir);
  }

  @Get()
  @Public()
  index(@Res() response: Response): void {
    this.send(response, 'index.html');
  }

  @Get(':asset')
  @Public()
  asset(@Param('asset') name: string, @Res() response: Response): void {
    this.send(response, name);
  }

  private send(response: Response, name: string): void {
    const asset = this.assets.get(name);
    if (!asset) {
      if (this.assets.size === 0) {
        throw new ConsoleError(
          'console_not_built',
          'The console is not built: run `npm run build` (npm start does it)',
        );
      }
      throw new ConsoleError('not_found', 'No such console asset');
    }
    response.setHeader('Content-Security-Policy', CONSOLE_CSP);
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    response.setHeader('Cache-Control', name === 'index.html' ? 'no-cache' : 'public, max-age=300');
    response.type(asset.contentType).send(asset.body);
  }
}
