import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { deserialize, serialize } from 'bson';
import mongoose, { Connection, Schema } from 'mongoose';
import {
  MONGODB_PIPELINE_STAGES,
  PREVIOUS_KEYS_PER_READ,
  previousOfWorkersPipeline,
} from '../libs/offline-sync/src/infrastructure/persistence/mongo/repositories/mongo-attendance-log.repository';
import {
  mongoTestServerAvailable,
  MongoTestServer,
  startMongoTestServer,
} from './support/mongo-test-server';

const available = mongoTestServerAvailable();
const describeIfAvailable = available ? describe : describe.skip;

/**
 * The MongoDB wire-protocol test server answers the real Node driver (through mongoose) the
 * way a mongod does for what this project uses: handshake, cursors across getMore, E11000
 * duplicate keys with their index, upserts, aggregation, index listing.
 */
describeIfAvailable(
  `MongoDB test server (wire protocol in front of mongomock)${available ? '' : ' (skipped: /usr/bin/python3 lacks python3-mongomock / python3-pymongo)'}`,
  () => {
    let server: MongoTestServer;
    let connection: Connection;

    beforeAll(async () => {
      server = await startMongoTestServer();
      connection = mongoose.createConnection(server.uri, {
        dbName: `mdai_server_${randomBytes(4).toString('hex')}`,
        serverSelectionTimeoutMS: 5000,
      });
      await connection.asPromise();
    });

    afterAll(async () => {
      await connection?.close();
      await server?.stop();
    });

    const thingSchema = new Schema(
      { code: { type: String, required: true }, n: Number, at: Date },
      { versionKey: false, collection: 'things' },
    );
    thingSchema.index({ code: 1 }, { unique: true });

    it('should answer ping and hello like a writable primary', async () => {
      await expect(connection.db!.admin().ping()).resolves.toMatchObject({ ok: 1 });
      const hello = await connection.db!.admin().command({ hello: 1 });
      expect(hello).toMatchObject({ isWritablePrimary: true, ok: 1 });
    });

    it('should refuse a duplicate key with a real E11000 error naming the index', async () => {
      const Thing = connection.model('Thing', thingSchema);
      await Thing.init();
      await Thing.create({ code: 'a', n: 1 });
      const error = await Thing.create({ code: 'a', n: 2 }).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 11000,
        keyPattern: { code: 1 },
        keyValue: { code: 'a' },
      });
      expect((error as Error).message).toMatch(
        /^E11000 duplicate key error collection: .*things index: code_1/,
      );
      const update = await Thing.create({ code: 'b' })
        .then(() => Thing.updateOne({ code: 'b' }, { $set: { code: 'a' } }))
        .catch((e: unknown) => e);
      expect(update).toMatchObject({ code: 11000 });
      const upsert = await Thing.findOneAndUpdate(
        { code: 'c' },
        { $set: { code: 'a' } },
        { upsert: true },
      ).catch((e: unknown) => e);
      expect(upsert).toMatchObject({ code: 11000 });
      expect(await Thing.countDocuments({})).toBe(2);
    });

    it('should page a cursor over getMore and sort, filter and aggregate', async () => {
      const Row = connection.model(
        'Row',
        new Schema({ i: Number, even: Boolean }, { versionKey: false, collection: 'rows' }),
      );
      await Row.insertMany(Array.from({ length: 250 }, (_, i) => ({ i, even: i % 2 === 0 })));
      const seen: number[] = [];
      for await (const row of Row.find({ even: true }).sort({ i: -1 }).batchSize(7).lean()) {
        seen.push(row.i as number);
      }
      expect(seen).toHaveLength(125);
      expect(seen[0]).toBe(248);
      expect(seen.at(-1)).toBe(0);
      const [sum] = await Row.aggregate<{ total: number }>([
        { $match: { even: false } },
        { $group: { _id: null, total: { $sum: '$i' } } },
      ]);
      expect(sum.total).toBe(
        Array.from({ length: 125 }, (_, k) => 2 * k + 1).reduce((a, b) => a + b),
      );
      expect(await Row.distinct('even')).toEqual([false, true]);
    });

    it('should upsert with findOneAndUpdate and report the new document', async () => {
      const Thing = connection.model('Thing', thingSchema);
      const created = await Thing.collection.findOneAndUpdate(
        { code: 'z' },
        { $set: { n: 5 }, $setOnInsert: { at: new Date('2026-01-01T00:00:00Z') } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true },
      );
      expect(created.lastErrorObject).toMatchObject({ updatedExisting: false });
      expect(created.value).toMatchObject({
        code: 'z',
        n: 5,
        at: new Date('2026-01-01T00:00:00Z'),
      });
      const old = await Thing.findOneAndUpdate({ code: 'z' }, { $inc: { n: 1 } }).lean();
      expect(old).toMatchObject({ n: 5 });
    });

    it('should list, create and drop indexes', async () => {
      const Thing = connection.model('Thing', thingSchema);
      await Thing.collection.createIndex({ at: -1, _id: -1 }, { name: 'at_-1__id_-1' });
      const names = (await Thing.listIndexes()).map((i) => i.name);
      expect(names).toEqual(expect.arrayContaining(['_id_', 'code_1', 'at_-1__id_-1']));
      await Thing.collection.dropIndex('at_-1__id_-1');
      expect((await Thing.listIndexes()).map((i) => i.name)).not.toContain('at_-1__id_-1');
    });

    it('should refuse a transaction instead of pretending to run one', async () => {
      const session = await connection.startSession();
      try {
        const Thing = connection.model('Thing', thingSchema);
        session.startTransaction();
        await expect(Thing.create([{ code: 'tx' }], { session })).rejects.toThrow(
          /Transactions are not supported/,
        );
      } finally {
        await session.endSession();
      }
    });

    it('should let concurrent upserts of one unique key race, as a mongod without the upsert retry', async () => {
      const Thing = connection.model('Thing', thingSchema);
      // one connection each, open before the race: on one pooled connection the driver may send
      // the upserts one after another (a loaded machine opens new pool connections slowly), and
      // one after another they do not race
      const racers = await Promise.all(
        Array.from({ length: 8 }, () =>
          mongoose
            .createConnection(server.uri, {
              dbName: connection.db!.databaseName,
              maxPoolSize: 1,
              serverSelectionTimeoutMS: 5000,
            })
            .asPromise(),
        ),
      );
      try {
        await Promise.all(racers.map((c) => c.db!.admin().ping()));
        const results = await Promise.allSettled(
          racers.map((c, i) =>
            c
              .model('Thing', thingSchema)
              .updateOne({ code: 'race' }, { $setOnInsert: { n: i } }, { upsert: true }),
          ),
        );
        const refused = results.filter((r) => r.status === 'rejected');
        expect(refused.length).toBeGreaterThan(0);
        for (const r of refused) expect(r.reason).toMatchObject({ code: 11000 });
        expect(await Thing.countDocuments({ code: 'race' })).toBe(1);
      } finally {
        await Promise.all(racers.map((c) => c.close()));
      }
    });

    it('should refuse the pipelines a mongod refuses: more than 1000 stages, an unknown $unionWith field, a write in a $unionWith', async () => {
      const rows = connection.db!.collection('union_rows');
      await rows.insertMany([{ x: 1 }, { x: 2 }, { x: 3 }]);
      const run = (pipeline: object[]) =>
        rows
          .aggregate(pipeline)
          .toArray()
          .catch((e: unknown) => e);
      const project = { $project: { _id: 1 } };
      const union = (pipeline: object[]) => ({ $unionWith: { coll: 'union_rows', pipeline } });
      const tooLong = {
        code: 7749501,
        message: `Pipeline length must be no longer than ${MONGODB_PIPELINE_STAGES} stages.`,
      };
      // each pipeline has its own 1000: the top one, and each $unionWith's
      await expect(run(Array.from({ length: 1000 }, () => project))).resolves.toHaveLength(3);
      await expect(run(Array.from({ length: 1001 }, () => project))).resolves.toMatchObject(
        tooLong,
      );
      await expect(
        run([union(Array.from({ length: 1001 }, () => project))]),
      ).resolves.toMatchObject(tooLong);
      await expect(
        run(Array.from({ length: 1000 }, () => union([{ $limit: 1 }, project]))),
      ).resolves.toHaveLength(1003);
      await expect(
        run(Array.from({ length: 1001 }, () => union([{ $limit: 1 }]))),
      ).resolves.toMatchObject(tooLong);
      await expect(
        run([{ $unionWith: { coll: 'union_rows', pipeline: [], bogus: 1 } }]),
      ).resolves.toMatchObject({
        code: 40415,
        codeName: 'IDLUnknownField',
        message: "BSON field '$unionWith.bogus' is an unknown field.",
      });
      for (const write of [
        { $out: 'union_out' },
        { $merge: { into: 'union_out', whenMatched: 'replace', whenNotMatched: 'insert' } },
      ]) {
        await expect(run([union([write])])).resolves.toMatchObject({
          code: 31441,
          message: `${Object.keys(write)[0]} is not allowed within a $unionWith's sub-pipeline`,
        });
      }
      // refused before any of it ran: nothing written
      expect(await connection.db!.listCollections({ name: 'union_out' }).toArray()).toEqual([]);
    });

    it("should take findPreviousOfWorkers' aggregation of PREVIOUS_KEYS_PER_READ keys, under the stage limit", async () => {
      const logs = connection.db!.collection('previous_logs');
      await logs.insertMany([
        { workerId: 'w', at: new Date('2026-01-01T08:00:00Z'), packetId: 'a' },
        { workerId: 'w', at: new Date('2026-01-01T09:00:00Z'), packetId: 'b' },
      ]);
      const keys = Array.from({ length: PREVIOUS_KEYS_PER_READ }, (_, i) => ({
        workerId: 'w',
        at: new Date(i % 2 ? '2026-01-01T08:30:00Z' : '2026-01-02T00:00:00Z'),
        packetId: 'z',
      }));
      const pipeline = previousOfWorkersPipeline('previous_logs', keys, 0);
      expect(pipeline.length).toBeLessThanOrEqual(MONGODB_PIPELINE_STAGES);
      const answers = await logs.aggregate<{ _k: number; packetId: string }>(pipeline).toArray();
      expect(answers.map((doc) => [doc._k, doc.packetId])).toEqual(
        keys.map((_, i) => [i, i % 2 ? 'a' : 'b']),
      );
    });

    it('should answer hello, isMaster, ping and buildInfo while another command holds its lock', () => {
      // the server's own Python test: it holds the global lock in-process, as a long scan of
      // another connection does, and runs the handshake commands beside it (a mongod answers the
      // driver's heartbeat whatever else runs; one that waits fails the driver's operations)
      const python = process.env.MONGO_TEST_SERVER_PYTHON ?? '/usr/bin/python3';
      const run = spawnSync(python, [join(__dirname, 'mongo-server', 'test_lock_free.py')], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    });

    it('should answer a malformed OP_MSG with an error document and keep serving', async () => {
      const { port } = new URL(server.uri);
      const body = serialize({ ping: 1, $db: 'admin' });
      // flags, then a section of unknown kind 7
      const payload = Buffer.concat([Buffer.alloc(4), Buffer.from([7]), body]);
      const header = Buffer.alloc(16);
      header.writeInt32LE(16 + payload.length, 0);
      header.writeInt32LE(42, 4);
      header.writeInt32LE(2013, 12);
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write(Buffer.concat([header, payload])),
        );
        let data = Buffer.alloc(0);
        socket.on('data', (chunk) => {
          data = Buffer.concat([data, chunk]);
          if (data.length >= 4 && data.length >= data.readInt32LE(0)) {
            socket.end();
            resolve(data);
          }
        });
        socket.on('error', reject);
      });
      expect(reply.readInt32LE(8)).toBe(42);
      expect(deserialize(reply.subarray(21))).toMatchObject({ ok: 0, codeName: 'FailedToParse' });
      await expect(connection.db!.admin().ping()).resolves.toMatchObject({ ok: 1 });
    });
  },
);
