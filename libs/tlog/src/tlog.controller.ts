import { Controller, Get, Query, Res } from '@nestjs/common';
import { Response } from 'express';
import { Public, Roles, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@app/common';
import { LogKeysQuery, LogKeysView, WitnessQuery } from './dto/tlog.dto';
import { LogKeyService } from './log-key.service';
import { WitnessLog } from './witness-log';

@ApiTags('transparency log')
@Controller('api/v5/tlog')
export class TlogController {
  constructor(
    private readonly keys: LogKeyService,
    private readonly witness: WitnessLog,
  ) {}

  @Get('keys')
  @Public()
  @ApiOperation({
    summary:
      'Checkpoint verification keys (Ed25519): the active one and retired ones with their windows',
  })
  @ApiOkResponse({ type: LogKeysView })
  list(@Query() query: LogKeysQuery): LogKeysView {
    return {
      keys: this.keys.all().map((k) => ({
        kid: k.kid,
        alg: 'Ed25519',
        publicKey: k.publicKey,
        status: k.status,
        notBefore: k.notBefore?.toISOString(),
        notAfter: k.notAfter?.toISOString(),
        verifierKey: query.origin ? this.keys.verifierKey(query.origin, k) : undefined,
      })),
    };
  }

  @Get('witness')
  @Roles('admin', 'auditor')
  @ApiOperation({
    summary:
      'The witness file from a byte offset (≤ 1 MiB per call): one signed checkpoint per line, for monitors',
  })
  @ApiProduces('application/x-ndjson')
  async read(@Query() query: WitnessQuery, @Res() response: Response): Promise<void> {
    const { bytes, size } = await this.witness.read(query.offset ?? 0);
    response
      .status(200)
      .setHeader('content-type', 'application/x-ndjson; charset=utf-8')
      .setHeader('x-witness-size', String(size))
      .end(bytes);
  }
}
