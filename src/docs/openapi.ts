import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI 3 document at `/api/docs-json`, Swagger UI at `/api/docs` (no token needed to read them). */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Identity groups service')
    .setDescription(
      'Multi-tenant groups and users with memberships, per `/api/{tenantKey}/{orgKey}/identity` scope. ' +
        'Errors use the OData JSON error shape `{"error":{"code","message","target?","details?"}}`.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json', yamlDocumentUrl: 'api/docs-yaml' });
}
