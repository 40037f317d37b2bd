import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('MDAI backend')
    .setDescription(
      'Kiosk identity, Wi-Fi provisioning, phone↔kiosk pairing, offline attendance and the biometric vault. ' +
        'The WebSocket protocol is described in docs/protocol.md. Errors share one body: ' +
        '{ statusCode, code, message, correlationId, errors? }.',
    )
    .setVersion('0.1.0')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'offline-token')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'The mobile token of a pairing session' },
      'session-token',
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'x-signature',
        description:
          "A thekedar's device signature, with x-thekedar-id, x-device-id and x-request-timestamp (see POST /api/v5/workers)",
      },
      'thekedar-signature',
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}
