import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { Request, Response } from 'express';
import {
  apiKeyAccess,
  ErrorBody,
  HandlerCredential,
  Public,
  Role,
  Roles,
  ApiBody,
  ApiConsumes,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@app/common';
import { CheckpointView, toCheckpointView } from '@app/tlog';
import { auditTime, VaultAuditRecord } from './domain/vault-audit-record';
import {
  DeletedFileView,
  StoredFileView,
  VaultAuditQuery,
  VaultAuditRecordView,
  VaultAuditVerificationView,
  VaultKeyUsageView,
} from './dto/vault.dto';
import { VaultAuditService } from './vault-audit.service';
import { VaultCredential, VaultService } from './vault.service';
import { sendBody } from './send-body';
import { VaultError } from './vault.errors';

const PURPOSE_HEADER = 'x-access-purpose';

/** The roles of the file routes, which the vault checks itself (the handler and its doc read these). */
const STORE_ROLES: readonly Role[] = ['admin'];
const READ_ROLES: readonly Role[] = ['auditor', 'admin'];
const DELETE_ROLES: readonly Role[] = ['admin'];

/**
 * The file routes are `@Public()` for the global guard on purpose: the vault checks the key
 * and role itself so that refused attempts are audited too (401/403 keep the error body).
 */
@ApiTags('vault')
@ApiResponse({
  status: 503,
  type: ErrorBody,
  description: 'audit_unavailable: the audit log cannot be written, so nothing is served',
})
@Controller('api/v5/vault')
export class VaultController {
  constructor(
    private readonly vault: VaultService,
    private readonly audit: VaultAuditService,
  ) {}

  @Get('audit')
  @Roles('auditor')
  @ApiOperation({
    summary: 'Access records, in chain order, optionally of one file, actor, action or result',
  })
  @ApiOkResponse({ type: [VaultAuditRecordView] })
  async listAudit(@Query() query: VaultAuditQuery): Promise<VaultAuditRecordView[]> {
    const records = await this.audit.list({
      fileId: query.fileId,
      actor: query.actor,
      action: query.action,
      result: query.result,
      afterSeq: query.after,
      limit: query.limit ?? 100,
    });
    return records.map(toAuditView);
  }

  @Get('audit/verify')
  @Roles('auditor')
  @ApiOperation({ summary: 'Recompute the audit hash chain; a deleted or edited record breaks it' })
  @ApiOkResponse({ type: VaultAuditVerificationView })
  verifyAudit(): Promise<VaultAuditVerificationView> {
    return this.audit.verify();
  }

  @Get('audit/checkpoint')
  @Roles('auditor', 'admin')
  @ApiOperation({ summary: 'The latest signed checkpoint of the audit log (C2SP tlog-checkpoint)' })
  @ApiOkResponse({ type: CheckpointView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'checkpoint_not_found' })
  async auditCheckpoint(): Promise<CheckpointView> {
    const c = await this.audit.latestCheckpoint();
    if (!c) throw new VaultError('checkpoint_not_found', 'The audit log has no checkpoint yet');
    return toCheckpointView(c);
  }

  @Get('keys')
  @Roles('admin')
  @ApiOperation({
    summary:
      'Which master key versions still seal something (vault data keys and every module’s sealed values), and which can be dropped',
  })
  @ApiOkResponse({ type: VaultKeyUsageView })
  keyUsage(): Promise<VaultKeyUsageView> {
    return this.vault.keyUsage();
  }

  @Post()
  @Public()
  @HandlerCredential(apiKeyAccess(STORE_ROLES))
  @HttpCode(201)
  @ApiOperation({
    summary: 'Store an image (admin): the raw body is encrypted as it streams in',
    description:
      "A JPEG, PNG or WebP body must start with its type's signature (checked on the first " +
      'bytes, before anything is written); other image types and application/octet-stream are ' +
      'stored as declared. A body of no bytes is refused.',
  })
  @ApiConsumes('image/jpeg', 'image/png', 'image/webp', 'application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiHeader({ name: PURPOSE_HEADER, required: false, description: 'Why (default "upload")' })
  @ApiResponse({ status: 201, type: StoredFileView })
  @ApiResponse({
    status: 400,
    type: ErrorBody,
    description: 'empty_file: a body of no bytes (nothing stored, the refusal audited)',
  })
  @ApiResponse({
    status: 413,
    type: ErrorBody,
    description: 'payload_too_large: over VAULT_MAX_FILE_BYTES',
  })
  @ApiResponse({
    status: 415,
    type: ErrorBody,
    description:
      'unsupported_media_type: not an image or octet-stream; image_type_mismatch: an image/jpeg, ' +
      "image/png or image/webp body that does not start with its type's signature (JPEG FF D8 FF, " +
      'PNG 89 50 4E 47 0D 0A 1A 0A, WebP RIFF....WEBP): nothing stored, the refusal audited',
  })
  async store(
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StoredFileView> {
    const purpose = header(request, PURPOSE_HEADER) ?? 'upload';
    try {
      const actor = await this.vault.admit(
        credentialOf(request),
        STORE_ROLES,
        'store',
        '',
        purpose,
      );
      const declared = Number(request.headers['content-length']);
      return await this.vault.store(
        request,
        header(request, 'content-type') ?? '',
        actor,
        purpose,
        Number.isFinite(declared) ? declared : undefined,
        // the body's chunks are copies the HTTP parser made for this request: freed once sealed
        true,
      );
    } catch (error) {
      // the rest of a refused upload is not read: close the connection after the answer
      if (!request.readableEnded && !response.headersSent) {
        response.setHeader('connection', 'close');
      }
      throw error;
    }
  }

  @Get(':fileId')
  @Public()
  @HandlerCredential(apiKeyAccess(READ_ROLES))
  @ApiOperation({
    summary: 'Read a file (auditor or admin); audited before any byte is sent',
  })
  @ApiHeader({ name: PURPOSE_HEADER, required: true, description: 'Why the file is read' })
  @ApiProduces('image/*', 'application/octet-stream')
  @ApiResponse({
    status: 200,
    description:
      'The original bytes, with their content type; header x-audit-receipt = base64url JSON {origin, seq, leafIndex, leafHash, treeSize, inclusionProof, recordHash, checkpoint}',
  })
  @ApiResponse({ status: 400, type: ErrorBody, description: 'missing_purpose (audited)' })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'file_not_found (audited)' })
  @ApiResponse({ status: 410, type: ErrorBody, description: 'file_deleted (audited)' })
  @ApiResponse({
    status: 409,
    type: ErrorBody,
    description:
      'file_integrity_failed: tampered blob, or a metadata record (size, SHA-256, content type, creation time, creator) unlike what the blob binds; nothing served (audited)',
  })
  @ApiResponse({
    status: 503,
    type: ErrorBody,
    description:
      'audit_unavailable: the audit log cannot be written, so nothing is served; key_unavailable: the data key is wrapped by a master key version this server does not hold (audited; restart it with a VAULT_KEYS that holds the version: the current one, or after restoring a backup the version dropped since, added back)',
  })
  async read(
    @Param('fileId') fileId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const purpose = header(request, PURPOSE_HEADER);
    const actor = await this.vault.admit(
      credentialOf(request),
      READ_ROLES,
      'read',
      fileId,
      purpose,
    );
    const file = await this.vault.read(fileId, actor, purpose);
    response.status(200);
    response.setHeader('content-type', file.contentType);
    response.setHeader('content-length', String(file.size));
    response.setHeader('x-content-sha256', file.sha256);
    response.setHeader('cache-control', 'no-store');
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('content-disposition', `attachment; filename="${file.fileId}"`);
    // the allowed read's audit record, proven in the signed audit log (docs/ledger-format.md)
    response.setHeader(
      'x-audit-receipt',
      Buffer.from(JSON.stringify(file.receipt)).toString('base64url'),
    );
    // in batches of about 1 MiB; a chunk failing authentication mid-way destroys the response:
    // the client sees a cut transfer (fewer bytes than content-length), never unauthenticated bytes
    await sendBody(file.body, response);
  }

  @Delete(':fileId')
  @Public()
  @HandlerCredential(apiKeyAccess(DELETE_ROLES))
  @ApiOperation({ summary: 'Crypto-shred a file (admin): its data key is destroyed' })
  @ApiOkResponse({ type: DeletedFileView })
  @ApiResponse({ status: 404, type: ErrorBody, description: 'file_not_found (audited)' })
  @ApiResponse({ status: 410, type: ErrorBody, description: 'file_deleted (audited)' })
  async delete(@Param('fileId') fileId: string, @Req() request: Request): Promise<DeletedFileView> {
    const purpose = header(request, PURPOSE_HEADER);
    const actor = await this.vault.admit(
      credentialOf(request),
      DELETE_ROLES,
      'delete',
      fileId,
      purpose,
    );
    const deleted = await this.vault.delete(fileId, actor, purpose);
    return { fileId: deleted.fileId, deletedAt: deleted.deletedAt.toISOString() };
  }
}

function header(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The caller's key and address; a refused caller gets its refusal's audit receipt. */
function credentialOf(request: Request): VaultCredential {
  return {
    apiKey: header(request, 'x-api-key'),
    ip: request.ip,
    onDeniedReceipt: (receipt) =>
      request.res?.setHeader(
        'x-audit-receipt',
        Buffer.from(JSON.stringify(receipt)).toString('base64url'),
      ),
  };
}

function toAuditView(record: VaultAuditRecord): VaultAuditRecordView {
  return {
    seq: record.seq,
    fileId: record.fileId,
    actor: record.actor,
    role: record.role,
    ip: record.ip,
    purpose: record.purpose,
    action: record.action,
    result: record.result,
    reason: record.reason,
    // a stored time that is not a date (a tampered row) is shown as null, not a 500: verify
    // names the record (record_hash_mismatch)
    at: auditTime(record.at) ?? null,
    prevHash: record.prevHash,
    recordHash: record.recordHash,
  };
}
