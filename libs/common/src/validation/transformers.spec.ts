import 'reflect-metadata';
import * as index from 'class-transformer';
import * as transformers from './transformers';

describe('transformers (class-transformer file by file)', () => {
  it('should export the very decorators class-transformer’s index exports', () => {
    expect(transformers.Type).toBe(index.Type);
    expect(transformers.Transform).toBe(index.Transform);
  });

  it('should transform as the index’s plainToInstance and instanceToPlain do', () => {
    class Inner {
      @transformers.Type(() => Number)
      n!: number;
    }
    class Outer {
      @transformers.Type(() => Number)
      count!: number;

      @transformers.Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
      name!: string;

      @transformers.Type(() => Inner)
      inner!: Inner;

      @transformers.Type(() => Inner)
      list!: Inner[];

      @transformers.Type(() => Date)
      at!: Date;
    }
    const plain = {
      count: '12',
      name: '  padded ',
      inner: { n: '3' },
      list: [{ n: '1' }, { n: 'x' }],
      at: '2026-06-01T08:00:00.000Z',
      extra: { kept: true },
    };
    for (const options of [undefined, { enableImplicitConversion: true }]) {
      const ours = transformers.plainToInstance(Outer, plain, options);
      const theirs = index.plainToInstance(Outer, plain, options);
      expect(ours).toBeInstanceOf(Outer);
      expect(ours.inner).toBeInstanceOf(Inner);
      expect(ours.list[1]).toBeInstanceOf(Inner);
      expect(ours).toEqual(theirs);
      expect(ours.count).toBe(12);
      expect(ours.name).toBe('padded');
      expect(ours.at).toEqual(new Date('2026-06-01T08:00:00.000Z'));
      expect(transformers.instanceToPlain(ours, options)).toEqual(
        index.instanceToPlain(theirs, options),
      );
      // what Nest's ValidationPipe calls
      expect(transformers.transformerPackage.classToPlain(ours, options)).toEqual(
        index.classToPlain(theirs, options),
      );
    }
    // an array of plain objects gives an array of instances, as the index's does
    const many = transformers.plainToInstance(Inner, [{ n: '1' }, { n: '2' }]);
    expect(many).toEqual(index.plainToInstance(Inner, [{ n: '1' }, { n: '2' }]));
    expect(many.map((item) => item.n)).toEqual([1, 2]);
  });
});
