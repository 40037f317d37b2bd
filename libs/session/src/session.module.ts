import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { VaultModule } from '@app/vault';
import { sessionAdapters } from './infrastructure/persistence/session-persistence';
import { SessionRepository } from './infrastructure/persistence/session.repository';
import { SessionTokenService } from './session-token.service';
import { SessionController } from './session.controller';
import { SessionService } from './session.service';

/** Pairing sessions (new protocol and legacy) and their socket tokens. */
@Module({
  imports: [VaultModule],
  controllers: [SessionController],
  providers: [bindPort(SessionRepository, sessionAdapters), SessionTokenService, SessionService],
  exports: [SessionService, SessionTokenService],
})
export class SessionModule {}
