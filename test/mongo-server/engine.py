"""The document engine behind the test server: mongomock, plus what it lacks (server-style
E11000 errors, cursors, pipeline updates, $unionWith, skip/limit before copying)."""
import functools
import heapq
import itertools
import threading
import time

import bson
import mongomock
from bson.int64 import Int64
from bson.son import SON
from mongomock import filtering
from pymongo.errors import DuplicateKeyError

import accel

DEFAULT_BATCH = 101
LOCK = threading.RLock()
CLIENT = mongomock.MongoClient()
CURSORS = {}
CURSOR_IDS = itertools.count(1000)


class CommandError(Exception):
    def __init__(self, message, code=2, code_name='BadValue'):
        super().__init__(message)
        self.code = code
        self.code_name = code_name


class WriteError(Exception):
    def __init__(self, error):
        super().__init__(error.get('errmsg'))
        self.error = error


def key_list(spec):
    return [(k, v) for k, v in spec.items()]


def sort_list(spec):
    if not spec:
        return None
    return [(k, int(v) if isinstance(v, (int, float)) else v) for k, v in spec.items()]


def is_operator_update(update):
    return isinstance(update, dict) and len(update) > 0 and all(k.startswith('$') for k in update)


def get_path(doc, path):
    cur = doc
    for part in path.split('.'):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def format_value(value):
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, bson.ObjectId):
        return "ObjectId('%s')" % value
    return repr(value)


def duplicate_key_error(collection, doc, exclude_id=None):
    """Builds the server's E11000 write error for `doc`, naming the violated unique index."""
    info = collection.index_information()
    candidates = [('_id_', {'key': [('_id', 1)], 'unique': True})] + list(info.items())
    for name, index in candidates:
        if not index.get('unique'):
            continue
        keys = [k for k, _ in index['key']]
        values = {k: get_path(doc, k) for k in keys}
        if index.get('sparse') and all(v is None for v in values.values()):
            continue
        query = {k: v for k, v in values.items()}
        partial = index.get('partialFilterExpression')
        if partial is not None:
            query = {'$and': [partial, query]}
        if exclude_id is not None:
            query = {'$and': [query, {'_id': {'$ne': exclude_id}}]}
        if collection.count_documents(query) > 0:
            dup = ', '.join('%s: %s' % (k, format_value(v)) for k, v in values.items())
            message = 'E11000 duplicate key error collection: %s.%s index: %s dup key: { %s }' % (
                collection.database.name, collection.name, name, dup)
            return {
                'code': 11000,
                'errmsg': message,
                'keyPattern': SON([(k, d) for k, d in index['key']]),
                'keyValue': SON([(k, values[k]) for k in keys]),
            }
    return {'code': 11000, 'errmsg': 'E11000 duplicate key error collection: %s.%s' % (
        collection.database.name, collection.name)}


def id_first(doc):
    """A real server keeps `_id` first; mongomock may not."""
    if isinstance(doc, dict) and '_id' in doc and next(iter(doc)) != '_id':
        return dict([('_id', doc['_id'])] + [(k, v) for k, v in doc.items() if k != '_id'])
    return doc


def open_cursor(ns, docs, batch_size):
    docs = [id_first(d) for d in docs]
    size = DEFAULT_BATCH if batch_size is None or batch_size <= 0 else batch_size
    first, rest = docs[:size], docs[size:]
    cursor_id = 0
    if rest:
        cursor_id = next(CURSOR_IDS)
        CURSORS[cursor_id] = (ns, rest)
    return {'cursor': {'firstBatch': first, 'id': Int64(cursor_id), 'ns': ns}, 'ok': 1.0}


def coll_of(db, cmd, name):
    return CLIENT[db][cmd[name]]


def collection_exists(db, name):
    return name in CLIENT[db].list_collection_names()


def sort_key_of(sort):
    """A key function ordering documents by a multi-field sort, as MongoDB does (each
    document's sort values are resolved once)."""
    directions = [direction for _, direction in sort]

    def compare(a, b):
        for ka, kb, direction in zip(a[0], b[0], directions):
            if ka < kb:
                return -1 if direction > 0 else 1
            if kb < ka:
                return 1 if direction > 0 else -1
        return 0

    wrap = functools.cmp_to_key(compare)
    return lambda doc: wrap(([filtering.resolve_sort_key(k, doc) for k, _ in sort],))


def find_documents(coll, spec, sort, projection, skip, limit):
    """mongomock's find, but through the equality maps (accel), with skip/limit applied before
    documents are copied, and a heap for a sorted page."""
    dataset = accel.iter_matching(coll, spec)
    sort = sort or []
    for key, _ in sort:
        if key.startswith('$'):
            raise CommandError('sorting by %s is not supported' % key, 2, 'BadValue')
    if sort and limit:
        dataset = iter(heapq.nsmallest(skip + limit, dataset, key=sort_key_of(sort)))
    else:
        for key, direction in reversed(sort):
            dataset = iter(sorted(dataset, key=lambda d, k=key: filtering.resolve_sort_key(k, d),
                                  reverse=direction < 0))
    dataset = itertools.islice(dataset, skip, skip + limit if limit else None)
    return [coll._copy_only_fields(doc, projection, dict) for doc in dataset]


def upsert_seed(query):
    """The equality fields of an upsert's query: what a real server copies into the new doc."""
    seed = {}
    for key, value in (query or {}).items():
        if key.startswith('$'):
            if key == '$and':
                for part in value:
                    seed.update(upsert_seed(part))
            continue
        if isinstance(value, dict) and any(k.startswith('$') for k in value):
            if '$eq' in value:
                seed[key] = value['$eq']
            continue
        seed[key] = value
    return seed


PIPELINE_STAGES = ('$set', '$addFields', '$project', '$replaceRoot', '$unset')


def pipeline_update(coll, query, pipeline, upsert, multi, sort=None):
    """An update with an aggregation pipeline (mongomock has none): each target document is run
    through the pipeline by mongomock's aggregation engine, then replaced. Returns
    (matched, modified, upserted_id, target_id)."""
    for stage in pipeline:
        if next(iter(stage)) not in PIPELINE_STAGES:
            raise CommandError('unsupported update pipeline stage %s' % next(iter(stage)), 9, 'FailedToParse')
    found = list(coll.find(query, projection={'_id': 1}, sort=sort_list(sort)))
    ids = [d['_id'] for d in (found if multi else found[:1])]
    if not ids and upsert:
        seed = dict(upsert_seed(query))
        seed.setdefault('_id', bson.ObjectId())
        scratch = CLIENT['__mdai_scratch__']['pipeline']
        scratch.delete_many({})
        scratch.insert_one(seed)
        new_doc = list(scratch.aggregate(pipeline))[0]
        scratch.delete_many({})
        new_doc.setdefault('_id', seed['_id'])
        try:
            coll.insert_one(new_doc)
        except DuplicateKeyError:
            raise WriteError(duplicate_key_error(coll, new_doc))
        return 0, 0, new_doc['_id'], new_doc['_id']
    modified = 0
    for target in ids:
        old = coll.find_one({'_id': target})
        new_doc = list(coll.aggregate([{'$match': {'_id': target}}] + list(pipeline)))[0]
        new_doc['_id'] = target
        if new_doc != old:
            try:
                coll.replace_one({'_id': target}, new_doc)
            except DuplicateKeyError:
                raise WriteError(duplicate_key_error(coll, new_doc, exclude_id=target))
            modified += 1
    return len(ids), modified, None, ids[0] if ids else None


def apply_update(coll, query, update, upsert, multi, array_filters=None):
    """Returns (matched, modified, upserted_id)."""
    if isinstance(update, list):
        return pipeline_update(coll, query, update, upsert, multi)[:3]
    kwargs = {}
    if array_filters:
        kwargs['array_filters'] = array_filters
    if is_operator_update(update):
        if multi:
            result = coll.update_many(query, update, upsert=upsert, **kwargs)
        else:
            result = coll.update_one(query, update, upsert=upsert, **kwargs)
    else:
        if multi:
            raise CommandError('multi update requires $ operators', 9, 'FailedToParse')
        result = coll.replace_one(query, update, upsert=upsert)
    return result.matched_count, result.modified_count, result.upserted_id


def target_id_for(coll, query, sort=None):
    found = find_documents(coll, query or {}, sort_list(sort), {'_id': 1}, 0, 1)
    return found[0]['_id'] if found else None


def upserted_document(query, update):
    """The document an upsert of `update` with `query` would insert (seed + update applied)."""
    scratch = CLIENT['__mdai_scratch__']['upsert']
    scratch.delete_many({})
    if is_operator_update(update):
        scratch.update_one(query, update, upsert=True)
    else:
        scratch.replace_one(query, update, upsert=True)
    doc = scratch.find_one({})
    scratch.delete_many({})
    return doc


def update_dup_error(coll, query, update):
    """The E11000 error of an update: the would-be document is the target with the update applied."""
    target = target_id_for(coll, query)
    if target is None:
        return duplicate_key_error(coll, upserted_document(query, update))
    scratch = CLIENT['__mdai_scratch__']['doc']
    scratch.delete_many({})
    scratch.insert_one(dict(coll.find_one({'_id': target})))
    if is_operator_update(update):
        scratch.update_one({'_id': target}, update)
    else:
        scratch.replace_one({'_id': target}, update)
    would_be = scratch.find_one({'_id': target})
    scratch.delete_many({})
    return duplicate_key_error(coll, would_be, exclude_id=target)


def race_window():
    """Lets other connections' commands run in the middle of this one (the caller holds LOCK
    exactly once): where a real server has a window between reading and writing."""
    LOCK.release()
    try:
        time.sleep(0.02)
    finally:
        LOCK.acquire()


def upsert_racing(coll, query, update):
    """An upsert that matched nothing: after a race window, it inserts, as a mongod does when
    it does not retry the upsert (before 4.2, or when the query is not an equality on a unique
    index). A document a concurrent writer inserted meanwhile makes the insert fail with
    E11000 on a unique index, or become a second document without one. Returns the new _id."""
    race_window()
    if target_id_for(coll, query) is None:
        return None
    doc = upserted_document(query, update)
    try:
        coll.insert_one(doc)
    except DuplicateKeyError:
        raise WriteError(duplicate_key_error(coll, doc))
    return doc['_id']


def index_docs(coll):
    docs = []
    for name, info in coll.index_information().items():
        doc = SON([('v', 2), ('key', SON(info['key'])), ('name', name)])
        for option in ('unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression'):
            if option in info:
                doc[option] = info[option]
        docs.append(doc)
    return docs


def matches_simple(doc, query):
    scratch = CLIENT['__mdai_scratch__']['match']
    scratch.delete_many({})
    scratch.insert_one(dict(doc))
    hit = scratch.count_documents(query) > 0
    scratch.delete_many({})
    return hit


def aggregate(db, coll, pipeline):
    """An aggregation, with `$unionWith` (mongomock has none; MongoDB 4.4+): the documents of
    the stages before it, then those of its pipeline run on its collection, and the stages after
    it run on both (through a scratch collection, each document wrapped so that equal _ids from
    the two sides stay two documents)."""
    docs = None
    stages = []

    def run(source, stages):
        if source is None:
            return list(coll.aggregate(stages))
        if not stages:
            return source
        scratch = CLIENT['__mdai_scratch__']['union']
        scratch.delete_many({})
        scratch.insert_many([{'_id': i, 'd': doc} for i, doc in enumerate(source)] or [{'_id': -1}])
        try:
            unwrap = [{'$match': {'d': {'$exists': True}}}, {'$sort': {'_id': 1}},
                      {'$replaceRoot': {'newRoot': '$d'}}]
            return list(scratch.aggregate(unwrap + list(stages)))
        finally:
            scratch.delete_many({})

    for stage in pipeline:
        name = next(iter(stage))
        if name != '$unionWith':
            stages.append(stage)
            continue
        spec = stage[name]
        if isinstance(spec, str):
            spec = {'coll': spec}
        if not isinstance(spec, dict) or not isinstance(spec.get('coll'), str):
            raise CommandError('$unionWith needs a collection name', 9, 'FailedToParse')
        docs = run(docs, stages)
        stages = []
        docs = docs + aggregate(db, CLIENT[db][spec['coll']], spec.get('pipeline', []))
    return run(docs, stages)
