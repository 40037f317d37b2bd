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
    .build();
  return SwaggerModule.createDocument(app, config);
}
