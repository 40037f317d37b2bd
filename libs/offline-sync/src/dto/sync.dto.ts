import {
  IsArray,
  IsIn,
  IsObject,
  IsOmittable,
  IsString,
  MaxLength,
  ValidateNested,
  ApiProperty,
  ApiPropertyOptional,
  Type,
} from '@app/common';
import {
  GEO_KEYS,
  GEO_RANGES,
  PACKET_ID_PATTERN,
  PACKET_REF_ID_PATTERN,
  PACKET_SIGNATURE_PATTERN,
  PACKET_TYPES,
  PAYLOAD_KEYS,
  UTC_TIMESTAMP_PATTERN,
} from '../domain/attendance-packet';
import { REJECTION_REASONS } from '../domain/sync-result';

/** `geo` of a packet's payload, for the OpenAPI document (the sync checks it: attendance-packet.ts). */
export class PacketGeoDoc {
  @ApiProperty({
    description: 'Latitude in degrees: a JSON number (a string is refused)',
    minimum: GEO_RANGES.lat.min,
    maximum: GEO_RANGES.lat.max,
  })
  lat!: number;

  @ApiProperty({
    description: 'Longitude in degrees: a JSON number (a string is refused)',
    minimum: GEO_RANGES.lng.min,
    maximum: GEO_RANGES.lng.max,
  })
  lng!: number;

  @ApiProperty({
    description: "The fix's accuracy radius in metres: a JSON number",
    minimum: GEO_RANGES.accuracyM.min,
    maximum: GEO_RANGES.accuracyM.max,
  })
  accuracyM!: number;
}

/**
 * A packet's payload, for the OpenAPI document only: the sync checks it itself
 * (`checkPacketShape`, from the same constants), packet by packet, and answers a packet that
 * breaks a rule with `rejected`/`malformed_packet` and a `detail`, not with a 400.
 */
export class AttendancePayloadDoc {
  @ApiProperty({
    description: 'A lowercase UUID the phone makes up, unique per device (re-sending it is safe)',
    pattern: PACKET_ID_PATTERN.source,
    example: '3b241101-e2bb-4255-8caf-4136c566a962',
  })
  packetId!: string;

  @ApiProperty({
    description: "The worker's id (the offline token's worker)",
    pattern: PACKET_REF_ID_PATTERN.source,
  })
  workerId!: string;

  @ApiProperty({
    description: "The site's id, one the offline token allows",
    pattern: PACKET_REF_ID_PATTERN.source,
  })
  siteId!: string;

  @ApiProperty({
    description: "This phone's deviceId (the offline token's device)",
    pattern: PACKET_REF_ID_PATTERN.source,
  })
  deviceId!: string;

  @ApiProperty({ enum: PACKET_TYPES })
  type!: string;

  @ApiProperty({
    description:
      'ISO-8601 UTC ending in Z, 0 to 3 fraction digits (+00:00 is refused), a real instant; kept exactly as signed',
    pattern: UTC_TIMESTAMP_PATTERN.source,
    example: '2026-03-01T09:30:00.000Z',
  })
  timestamp!: string;

  @ApiProperty({ type: PacketGeoDoc })
  geo!: PacketGeoDoc;
}

export class SignedPacketDto {
  @ApiProperty({
    type: AttendancePayloadDoc,
    description:
      `Exactly these members, no others: ${PAYLOAD_KEYS.join(', ')}; geo exactly ${GEO_KEYS.join(', ')}. ` +
      'Kept exactly as signed. A packet that breaks a rule is answered in its result as rejected, ' +
      'reason malformed_packet, with a detail saying what is wrong (docs/phone-client.md)',
  })
  @IsObject()
  payload!: Record<string, unknown>;

  @ApiProperty({
    description:
      'Lowercase hex (64 characters) of HMAC-SHA256, key = the device secret bytes (deviceSecret, base64-decoded), message = UTF-8 of JCS(payload) (RFC 8785)',
    pattern: PACKET_SIGNATURE_PATTERN.source,
  })
  @IsString()
  @MaxLength(128)
  signature!: string;
}

export class SyncRequestDto {
  @ApiProperty({
    type: [SignedPacketDto],
    maxItems: 500,
    description:
      'At most SYNC_MAX_PACKETS packets (500 by default, the maxItems shown); more is 413 too_many_packets naming the limit',
  })
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SignedPacketDto)
  packets!: SignedPacketDto[];
}

export class PacketReceiptView {
  @ApiProperty() seq!: number;
  @ApiProperty({ description: 'seq − 1' }) leafIndex!: number;
  @ApiProperty({ description: 'hex SHA-256(0x00 ‖ recordHash bytes)' }) leafHash!: string;
  @ApiProperty({ description: 'Size of the tree of the checkpoint it is proven against' })
  treeSize!: number;
  @ApiProperty({ type: [String], description: 'base64 hashes, RFC 9162 §2.1.3 order' })
  inclusionProof!: string[];
}

export class SyncCheckpointView {
  @ApiProperty() siteId!: string;
  @ApiProperty() origin!: string;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ description: 'hex' }) rootHash!: string;
  @ApiProperty({ description: 'C2SP tlog-checkpoint signed note (Ed25519), byte for byte' })
  note!: string;
}

export class PacketResultView {
  @ApiProperty() packetId!: string;
  @ApiProperty({ enum: ['accepted', 'duplicate', 'rejected'] }) status!: string;
  @ApiPropertyOptional({
    enum: REJECTION_REASONS,
    description:
      'Why it was rejected (with status rejected); each is also a fraud event. Final for the ' +
      'packet (the same packet again gets the same answer) except timestamp_in_future, which ' +
      'is accepted once the server clock reaches its timestamp minus ' +
      'SYNC_MAX_CLOCK_SKEW_SECONDS (docs/phone-client.md)',
  })
  reason?: string;
  @ApiPropertyOptional({
    description:
      'With reason malformed_packet or invalid_signature: what is wrong with the packet, e.g. "signature must be 64 lowercase hex characters" (for invalid_signature only that it does not verify)',
  })
  detail?: string;
  @ApiPropertyOptional() seq?: number;
  @ApiPropertyOptional() recordHash?: string;
  @ApiPropertyOptional({
    type: PacketReceiptView,
    description: 'Keep it: proves the link is in the log',
  })
  receipt?: PacketReceiptView;
}

export class SyncResponse {
  @ApiProperty({ type: [PacketResultView] }) results!: PacketResultView[];
  @ApiProperty() accepted!: number;
  @ApiProperty() duplicates!: number;
  @ApiProperty() rejected!: number;
  @ApiPropertyOptional({
    type: [SyncCheckpointView],
    description:
      'The signed checkpoints the receipts are proven against (absent with ?receipts=false)',
  })
  checkpoints?: SyncCheckpointView[];
}

export class SyncQuery {
  @ApiPropertyOptional({ description: 'false: no receipts in the answer (default true)' })
  @IsOmittable()
  @IsIn(['true', 'false'])
  receipts?: string;
}
