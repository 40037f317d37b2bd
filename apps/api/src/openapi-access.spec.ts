import {
  Body,
  CanActivate,
  Controller,
  Get,
  Injectable,
  Module,
  Post,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ApiResponse,
  BODY_PIPELINE_ERRORS,
  ErrorBody,
  describeGuard,
  HandlerCredential,
} from '@app/common';
import { buildOpenApi } from './openapi';

@Injectable()
class UndescribedGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class DescribedGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}
describeGuard(DescribedGuard, () => ({
  credentials: [{ scheme: 'api-key', roles: ['auditor'] }],
  errors: { 401: ['unauthorized'], 403: ['forbidden'] },
}));

@Controller('undescribed')
class UndescribedController {
  @Get()
  @UseGuards(UndescribedGuard)
  get(): string {
    return 'x';
  }
}

@Controller('described')
class DescribedController {
  @Get()
  @UseGuards(DescribedGuard)
  @ApiResponse({ status: 404, type: ErrorBody, description: 'site_not_found' })
  get(): string {
    return 'x';
  }
}

@Controller('wrong-status')
class WrongStatusController {
  @Get()
  @HandlerCredential({ errors: { 403: ['unauthorized'] } })
  get(): string {
    return 'x';
  }
}

@Controller('with-body')
class WithBodyController {
  @Post()
  post(@Body() body: unknown): unknown {
    return body;
  }
}

@ApiResponse({ status: 400, type: ErrorBody, description: 'Invalid input' })
@Controller('no-input')
class NoInputController {
  @Get()
  get(): string {
    return 'x';
  }
}

async function documentOf(controller: new () => object) {
  @Module({ controllers: [controller] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  try {
    await app.init();
    return buildOpenApi(app);
  } finally {
    await app.close();
  }
}

describe('documentAccess (the OpenAPI document from the guards)', () => {
  it('should refuse to document a route behind a guard that does not describe itself', async () => {
    await expect(documentOf(UndescribedController)).rejects.toThrow(
      'UndescribedGuard on UndescribedController_get has no describeGuard()',
    );
  });

  it('should write the security, roles and refusals a guard describes, and the codes the route names', async () => {
    const op = (await documentOf(DescribedController)).paths['/described'].get!;
    expect(op.security).toEqual([{ 'api-key': [] }]);
    expect((op as { 'x-roles'?: string[] })['x-roles']).toEqual(['auditor']);
    const codes = (status: string) =>
      (op.responses[status] as any).content['application/json'].schema.allOf[1].properties.code
        .enum;
    expect([codes('401'), codes('403'), codes('404')]).toEqual([
      ['unauthorized'],
      ['forbidden'],
      ['site_not_found'],
    ]);
  });

  it('should list, on a route that reads a body, every code the body pipeline answers, under its status', async () => {
    const op = (await documentOf(WithBodyController)).paths['/with-body'].post!;
    for (const [status, codes] of Object.entries(BODY_PIPELINE_ERRORS)) {
      const listed = (op.responses[status] as any).content['application/json'].schema.allOf[1]
        .properties.code.enum as string[];
      expect(listed).toEqual(expect.arrayContaining([...codes]));
    }
  });

  it('should refuse an error answer that names no code where nothing else gives it one', async () => {
    await expect(documentOf(NoInputController)).rejects.toThrow(
      'NoInputController_get: its 400 error answer ("Invalid input") names no error code',
    );
  });

  it('should refuse a code listed under a status it is not answered with', async () => {
    await expect(documentOf(WrongStatusController)).rejects.toThrow(
      'error code unauthorized is listed under 403',
    );
  });
});
