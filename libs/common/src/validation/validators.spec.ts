import * as index from 'class-validator';
import * as validators from './validators';

describe('validators (class-validator file by file)', () => {
  it('should export the very functions class-validator’s index exports', () => {
    const names = Object.keys(validators).filter(
      (name) => !['validate', 'validateSync', 'validatorPackage'].includes(name),
    );
    expect(names.length).toBeGreaterThanOrEqual(25);
    for (const name of names) {
      expect([name, validators[name as keyof typeof validators]]).toEqual([
        name,
        index[name as keyof typeof index],
      ]);
    }
  });

  it('should validate as the index’s validate and validateSync do', async () => {
    class Probe {
      @validators.IsString()
      @validators.MaxLength(3)
      name!: unknown;

      @validators.IsOptional()
      @validators.IsInt()
      @validators.Min(1)
      count?: unknown;
    }
    const bad = Object.assign(new Probe(), { name: 'toolong', count: 0 });
    const good = Object.assign(new Probe(), { name: 'ok' });
    const options = { validationError: { target: false, value: false } };
    expect(await validators.validate(bad, options)).toEqual(await index.validate(bad, options));
    expect(validators.validateSync(bad, options)).toEqual(index.validateSync(bad, options));
    expect(validators.validateSync(bad, options).map((e) => e.property)).toEqual(['name', 'count']);
    expect(await validators.validate(good)).toEqual([]);
  });
});
