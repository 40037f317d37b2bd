import { SetMetadata } from '@nestjs/common';
import { Role } from './role';

export const ROLES_KEY = 'mdai:roles';
export const PUBLIC_KEY = 'mdai:public';

/** The route needs an `x-api-key` of one of these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** The route takes no API key (its own credential, if any, is checked by its handler). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
