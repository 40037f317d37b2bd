import { Controller, Get } from '@nestjs/common';
import {
  CurrentPrincipal,
  Principal,
  ROLES,
  Roles,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
} from '@app/common';

export class WhoAmIView {
  @ApiProperty({ enum: ROLES, isArray: true, description: 'The roles the key holds' })
  roles!: string[];
  @ApiProperty({ description: 'First 12 hex chars of SHA-256 of the key (as recorded in audits)' })
  keyId!: string;
}

/** Lets a client (the console) learn what its API key may do, without trying routes. */
@ApiTags('auth')
@Controller('api')
export class WhoAmIController {
  @Get('whoami')
  @Roles(...ROLES)
  @ApiOperation({ summary: "The calling key's roles and key id (any valid key)" })
  @ApiOkResponse({ type: WhoAmIView })
  whoami(@CurrentPrincipal() principal: Principal): WhoAmIView {
    return { roles: [...principal.roles], keyId: principal.keyId };
  }
}
