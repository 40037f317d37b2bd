const mongoose = require('mongoose');
(async () => {
  const c = mongoose.createConnection(process.argv[2], { dbName: 'dbg' });
  await c.asPromise();
  const S = new mongoose.Schema({ _id: { type: String, required: true }, expiresAt: Date }, { versionKey: false });
  S.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  const M = c.model('N', S, 'nonces');
  await M.init();
  await M.create({ _id: 'aaa', expiresAt: new Date('2026-01-01T00:10:00Z') });
  console.log(await M.find().lean());
  try { await M.create({ _id: 'aaa', expiresAt: new Date() }); console.log('no error'); } catch (e) { console.log(e.code); }
  console.log(await M.find().lean());
  await c.dropDatabase(); await c.close();
})();
