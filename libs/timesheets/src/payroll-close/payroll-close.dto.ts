import {
  ApiProperty,
  ApiPropertyOptional,
  IsDay,
  IsOmittable,
  NotBefore,
  PageLimit,
} from '@app/common';

export class ClosePayrollDto {
  @ApiProperty({
    example: '2026-10-01',
    description: 'First local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive',
  })
  @IsDay()
  from!: string;

  @ApiProperty({
    example: '2026-10-31',
    description:
      'Last local day (YYYY-MM-DD, 1970-01-01 to 9998-12-31), inclusive, before today at the site (422 period_not_over); ' +
      'before `from` → 400 invalid_period',
  })
  @IsDay()
  @NotBefore('from')
  to!: string;
}

export class ListClosesQuery {
  @ApiPropertyOptional({
    example: '2026-10-01',
    description:
      'Only closes of periods starting before this day (YYYY-MM-DD, 1970-01-01 to 9998-12-31; the next page: the last `from`)',
  })
  @IsOmittable()
  @IsDay()
  before?: string;

  @PageLimit()
  limit?: number;
}

export class PayrollTotalsView {
  @ApiProperty() daysPresent!: number;
  @ApiProperty() hours!: number;
  @ApiProperty() workedSeconds!: number;
  @ApiProperty() flaggedDays!: number;
}

export class ClosedWorkerView extends PayrollTotalsView {
  @ApiProperty() workerId!: string;
}

export class PayrollCloseHeadView {
  @ApiProperty({ example: '2026-10-01' }) from!: string;
  @ApiProperty({ example: '2026-10-31' }) to!: string;
  @ApiProperty({ description: 'When the period was closed (ISO-8601 UTC)' }) at!: string;
  @ApiProperty({ example: 'admin:ops', description: 'Who closed it: `<role>:<keyId>`' })
  by!: string;
}

export class PayrollCloseView extends PayrollCloseHeadView {
  @ApiProperty() siteId!: string;
  @ApiProperty({
    enum: ['verified', 'tampered'],
    description:
      "`tampered`: the stored close does not verify under the server's store-MAC tag (changed " +
      'outside the server); the payroll of a period it overlaps answers 503 payroll_close_tampered',
  })
  integrity!: 'verified' | 'tampered';
  @ApiProperty({
    type: [ClosedWorkerView],
    description: 'Per worker, the totals the payroll showed when the period was closed',
  })
  workers!: ClosedWorkerView[];
}

export class PayrollClosesView {
  @ApiProperty({
    enum: ['verified', 'broken'],
    description:
      "The site's chain of closes (each names the one recorded before it, a tagged head names " +
      'the latest): `broken` when a close was deleted, reordered or changed outside the server ' +
      '(the payroll reads, closes and thekedar corrections of the site then answer 503 ' +
      'payroll_close_chain_broken)',
  })
  chain!: 'verified' | 'broken';
  @ApiProperty({ type: [PayrollCloseView] }) closes!: PayrollCloseView[];
  @ApiPropertyOptional({ description: 'Pass as ?before= for the next page (absent on the last)' })
  nextBefore?: string;
}
