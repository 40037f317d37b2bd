#!/usr/bin/python3
"""A MongoDB wire-protocol test server in front of mongomock (Debian: python3-mongomock,
python3-pymongo). Test tooling only: it lets the MongoDB adapters meet a server on machines
where no mongod can be installed.

It speaks OP_MSG (every command the Node driver sends) and the legacy OP_QUERY handshake
(hello / isMaster), and runs the commands this project's mongoose code uses: find, getMore,
killCursors, insert, update, delete, findAndModify, aggregate, count, distinct, create,
createIndexes, listIndexes, dropIndexes, listCollections, drop, dropDatabase, ping, buildInfo,
hello, endSessions and a few harmless admin commands. Unique-index violations are real
E11000 duplicate-key errors (code 11000, with keyPattern / keyValue).

What it does not emulate (see README "Testing on MongoDB"): transactions (commands run one by
one; a transaction's writes are applied immediately and abortTransaction cannot undo them, so
the server refuses startTransaction), real concurrency (one global lock runs one command at a
time), TTL deletion, authentication, write/read concerns, query plans (indexes are recorded and
enforced for uniqueness only), change streams.

Usage: /usr/bin/python3 server.py [--port 0] [--host 127.0.0.1]
Prints "listening <port>" on stdout once it accepts connections.
"""
import argparse
import datetime
import itertools
import re
import socket
import socketserver
import struct
import sys
import threading
import traceback

import bson
import mongomock
from mongomock import filtering
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.son import SON
from pymongo.errors import DuplicateKeyError, OperationFailure

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
OP_COMPRESSED = 2012
MAX_WIRE_VERSION = 17  # MongoDB 6.0
DEFAULT_BATCH = 101

CODEC = CodecOptions(document_class=dict, tz_aware=False)
LOCK = threading.RLock()
CLIENT = mongomock.MongoClient()
CURSORS = {}
CURSOR_IDS = itertools.count(1000)
CONNECTION_IDS = itertools.count(1)
REQUEST_IDS = itertools.count(1)


class CommandError(Exception):
    def __init__(self, message, code=2, code_name='BadValue'):
        super().__init__(message)
        self.code = code
        self.code_name = code_name


# --- wire framing ---------------------------------------------------------------------------

def read_exact(sock, n):
    chunks = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b''.join(chunks)


def read_cstring(data, pos):
    end = data.index(b'\x00', pos)
    return data[pos:end].decode('utf-8'), end + 1


def decode_doc(data, pos):
    size = struct.unpack_from('<i', data, pos)[0]
    return bson.decode(data[pos:pos + size], codec_options=CODEC), pos + size


def parse_op_msg(payload):
    flags = struct.unpack_from('<I', payload, 0)[0]
    end = len(payload) - (4 if flags & 1 else 0)
    pos = 4
    body = None
    while pos < end:
        kind = payload[pos]
        pos += 1
        if kind == 0:
            body, pos = decode_doc(payload, pos)
        elif kind == 1:
            size = struct.unpack_from('<i', payload, pos)[0]
            section_end = pos + size
            identifier, p = read_cstring(payload, pos + 4)
            docs = []
            while p < section_end:
                doc, p = decode_doc(payload, p)
                docs.append(doc)
            pos = section_end
            if body is None:
                raise CommandError('document sequence before the body')
            body.setdefault(identifier, []).extend(docs)
        else:
            raise CommandError('unknown OP_MSG section kind %d' % kind)
    return flags, body


def frame(op_code, response_to, payload):
    header = struct.pack('<iiii', 16 + len(payload), next(REQUEST_IDS), response_to, op_code)
    return header + payload


def op_msg_reply(response_to, doc):
    return frame(OP_MSG, response_to, struct.pack('<I', 0) + b'\x00' + bson.encode(doc))


def op_reply(response_to, doc):
    payload = struct.pack('<iqii', 0, 0, 0, 1) + bson.encode(doc)
    return frame(OP_REPLY, response_to, payload)


# --- helpers --------------------------------------------------------------------------------

def now():
    return datetime.datetime.utcnow()


def hello_reply(connection_id):
    return {
        'helloOk': True,
        'ismaster': True,
        'isWritablePrimary': True,
        'maxBsonObjectSize': 16 * 1024 * 1024,
        'maxMessageSizeBytes': 48000000,
        'maxWriteBatchSize': 100000,
        'localTime': now(),
        'logicalSessionTimeoutMinutes': 30,
        'connectionId': connection_id,
        'minWireVersion': 0,
        'maxWireVersion': MAX_WIRE_VERSION,
        'readOnly': False,
        'ok': 1.0,
    }


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


# --- commands -------------------------------------------------------------------------------

def find_documents(coll, spec, sort, projection, skip, limit):
    """mongomock's find, but skip/limit applied before documents are copied: a `sort + limit 1`
    over a large collection copies one document, not all of them."""
    dataset = coll._iter_documents(spec)
    for key, direction in reversed(sort or []):
        if key.startswith('$'):
            raise CommandError('sorting by %s is not supported' % key, 2, 'BadValue')
        dataset = iter(sorted(dataset, key=lambda d, k=key: filtering.resolve_sort_key(k, d),
                              reverse=direction < 0))
    dataset = itertools.islice(dataset, skip, skip + limit if limit else None)
    return [coll._copy_only_fields(doc, projection, dict) for doc in dataset]


def cmd_find(db, cmd, conn):
    coll = coll_of(db, cmd, 'find')
    limit = int(cmd.get('limit') or 0)
    docs = find_documents(coll, cmd.get('filter') or {}, sort_list(cmd.get('sort')),
                          cmd.get('projection') or None, int(cmd.get('skip') or 0), abs(limit))
    batch = cmd.get('batchSize')
    if cmd.get('singleBatch') or limit < 0:
        batch = len(docs) or 1
    return open_cursor('%s.%s' % (db, coll.name), docs, batch)


def cmd_get_more(db, cmd, conn):
    cursor_id = int(cmd['getMore'])
    entry = CURSORS.pop(cursor_id, None)
    if entry is None:
        raise CommandError('cursor id %d not found' % cursor_id, 43, 'CursorNotFound')
    ns, docs = entry
    size = cmd.get('batchSize') or len(docs)
    batch, rest = docs[:size], docs[size:]
    next_id = 0
    if rest:
        next_id = cursor_id
        CURSORS[cursor_id] = (ns, rest)
    return {'cursor': {'nextBatch': batch, 'id': Int64(next_id), 'ns': ns}, 'ok': 1.0}


def cmd_kill_cursors(db, cmd, conn):
    killed, not_found = [], []
    for cursor_id in cmd.get('cursors', []):
        (killed if CURSORS.pop(int(cursor_id), None) is not None else not_found).append(cursor_id)
    return {'cursorsKilled': killed, 'cursorsNotFound': not_found, 'cursorsAlive': [],
            'cursorsUnknown': [], 'ok': 1.0}


def cmd_insert(db, cmd, conn):
    coll = coll_of(db, cmd, 'insert')
    ordered = cmd.get('ordered', True)
    n, errors = 0, []
    for index, doc in enumerate(cmd.get('documents', [])):
        try:
            coll.insert_one(doc)
            n += 1
        except DuplicateKeyError:
            errors.append(dict(duplicate_key_error(coll, doc), index=index))
            if ordered:
                break
    reply = {'n': n, 'ok': 1.0}
    if errors:
        reply['writeErrors'] = errors
    return reply


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
    found = list(coll.find(query or {}, projection={'_id': 1}, sort=sort_list(sort), limit=1))
    return found[0]['_id'] if found else None


def cmd_update(db, cmd, conn):
    coll = coll_of(db, cmd, 'update')
    ordered = cmd.get('ordered', True)
    n = modified = 0
    upserted, errors = [], []
    for index, spec in enumerate(cmd.get('updates', [])):
        query = spec.get('q') or {}
        try:
            matched, changed, upserted_id = apply_update(
                coll, query, spec.get('u'), spec.get('upsert', False), spec.get('multi', False),
                spec.get('arrayFilters'))
            n += matched
            modified += changed
            if upserted_id is not None:
                n += 1
                upserted.append({'index': index, '_id': upserted_id})
        except DuplicateKeyError:
            errors.append(dict(update_dup_error(coll, query, spec.get('u')), index=index))
            if ordered:
                break
        except WriteError as e:
            errors.append(dict(e.error, index=index))
            if ordered:
                break
    reply = {'n': n, 'nModified': modified, 'ok': 1.0}
    if upserted:
        reply['upserted'] = upserted
    if errors:
        reply['writeErrors'] = errors
    return reply


def update_dup_error(coll, query, update):
    """The E11000 error of an update: the would-be document is the target with the update applied."""
    target = target_id_for(coll, query)
    scratch = CLIENT['__mdai_scratch__']['doc']
    scratch.delete_many({})
    base = coll.find_one({'_id': target}) if target is not None else dict(upsert_seed(query))
    base = dict(base)
    base.setdefault('_id', bson.ObjectId())
    scratch.insert_one(base)
    if is_operator_update(update):
        scratch.update_one({'_id': base['_id']}, update)
    else:
        scratch.replace_one({'_id': base['_id']}, update)
    would_be = scratch.find_one({'_id': base['_id']})
    scratch.delete_many({})
    return duplicate_key_error(coll, would_be, exclude_id=target)


def cmd_delete(db, cmd, conn):
    coll = coll_of(db, cmd, 'delete')
    n = 0
    for spec in cmd.get('deletes', []):
        if int(spec.get('limit', 0)) == 1:
            n += coll.delete_one(spec.get('q') or {}).deleted_count
        else:
            n += coll.delete_many(spec.get('q') or {}).deleted_count
    return {'n': n, 'ok': 1.0}


def cmd_find_and_modify(db, cmd, conn):
    coll = coll_of(db, cmd, 'findAndModify')
    query = cmd.get('query') or {}
    sort = sort_list(cmd.get('sort'))
    projection = cmd.get('fields') or None
    if cmd.get('remove'):
        value = coll.find_one_and_delete(query, projection=projection, sort=sort)
        return {'lastErrorObject': {'n': 1 if value else 0}, 'value': value, 'ok': 1.0}
    update = cmd.get('update')
    upsert = bool(cmd.get('upsert'))
    return_new = bool(cmd.get('new'))
    existing = target_id_for(coll, query, cmd.get('sort'))
    before = coll.find_one({'_id': existing}, projection=projection) if existing is not None else None
    try:
        if isinstance(update, list):
            target = pipeline_update(coll, query, update, upsert, False, cmd.get('sort'))[3]
            after = coll.find_one({'_id': target}) if target is not None else None
        elif is_operator_update(update):
            after = coll.find_one_and_update(
                query, update, sort=sort, upsert=upsert, return_document=True,
                array_filters=cmd.get('arrayFilters'))
        else:
            after = coll.find_one_and_replace(
                query, update, sort=sort, upsert=upsert, return_document=True)
    except DuplicateKeyError:
        raise WriteError(update_dup_error(coll, query, update))
    last = {'n': 1 if after is not None else 0, 'updatedExisting': existing is not None}
    if existing is None and after is not None:
        last['upserted'] = after['_id']
    if return_new:
        value = coll.find_one({'_id': after['_id']}, projection=projection) if after else None
    else:
        value = before
    return {'lastErrorObject': last, 'value': id_first(value), 'ok': 1.0}


class WriteError(Exception):
    def __init__(self, error):
        super().__init__(error.get('errmsg'))
        self.error = error


def cmd_aggregate(db, cmd, conn):
    if cmd['aggregate'] == 1:
        raise CommandError('database-level aggregate is not supported', 115, 'CommandNotSupported')
    coll = coll_of(db, cmd, 'aggregate')
    docs = list(coll.aggregate(cmd.get('pipeline', [])))
    batch = (cmd.get('cursor') or {}).get('batchSize')
    return open_cursor('%s.%s' % (db, coll.name), docs, batch)


def cmd_count(db, cmd, conn):
    coll = coll_of(db, cmd, 'count')
    kwargs = {}
    if cmd.get('skip'):
        kwargs['skip'] = int(cmd['skip'])
    if cmd.get('limit'):
        kwargs['limit'] = abs(int(cmd['limit']))
    return {'n': coll.count_documents(cmd.get('query') or {}, **kwargs), 'ok': 1.0}


def cmd_distinct(db, cmd, conn):
    coll = coll_of(db, cmd, 'distinct')
    return {'values': coll.distinct(cmd['key'], cmd.get('query') or {}), 'ok': 1.0}


def cmd_create(db, cmd, conn):
    name = cmd['create']
    if not collection_exists(db, name):
        CLIENT[db].create_collection(name)
    return {'ok': 1.0}


INDEX_OPTIONS = ('unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'background')


def cmd_create_indexes(db, cmd, conn):
    name = cmd['createIndexes']
    created = not collection_exists(db, name)
    if created:
        CLIENT[db].create_collection(name)
    coll = CLIENT[db][name]
    before = len(coll.index_information())
    for spec in cmd.get('indexes', []):
        kwargs = {k: spec[k] for k in INDEX_OPTIONS if k in spec}
        if 'name' in spec:
            kwargs['name'] = spec['name']
        try:
            coll.create_index(key_list(spec['key']), **kwargs)
        except DuplicateKeyError:
            raise CommandError('E11000 duplicate key error collection: %s.%s index: %s' % (
                db, name, spec.get('name')), 11000, 'DuplicateKey')
    after = len(coll.index_information())
    return {'createdCollectionAutomatically': created, 'numIndexesBefore': before,
            'numIndexesAfter': after, 'ok': 1.0}


def index_docs(coll):
    docs = []
    for name, info in coll.index_information().items():
        doc = SON([('v', 2), ('key', SON(info['key'])), ('name', name)])
        for option in ('unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression'):
            if option in info:
                doc[option] = info[option]
        docs.append(doc)
    return docs


def cmd_list_indexes(db, cmd, conn):
    name = cmd['listIndexes']
    if not collection_exists(db, name):
        raise CommandError('ns does not exist: %s.%s' % (db, name), 26, 'NamespaceNotFound')
    return open_cursor('%s.%s' % (db, name), index_docs(CLIENT[db][name]),
                       (cmd.get('cursor') or {}).get('batchSize'))


def cmd_drop_indexes(db, cmd, conn):
    name = cmd['dropIndexes']
    if not collection_exists(db, name):
        raise CommandError('ns not found %s.%s' % (db, name), 26, 'NamespaceNotFound')
    coll = CLIENT[db][name]
    before = len(coll.index_information())
    target = cmd.get('index')
    if target == '*':
        coll.drop_indexes()
    elif isinstance(target, dict):
        coll.drop_index(key_list(target))
    elif isinstance(target, list):
        for one in target:
            coll.drop_index(one)
    else:
        if target not in coll.index_information():
            raise CommandError('index not found with name [%s]' % target, 27, 'IndexNotFound')
        coll.drop_index(target)
    return {'nIndexesWas': before, 'ok': 1.0}


def cmd_list_collections(db, cmd, conn):
    names = CLIENT[db].list_collection_names()
    wanted = cmd.get('filter') or {}
    docs = []
    for name in names:
        doc = {'name': name, 'type': 'collection', 'options': {},
               'info': {'readOnly': False}, 'idIndex': {'v': 2, 'key': {'_id': 1}, 'name': '_id_'}}
        if wanted and not matches_simple(doc, wanted):
            continue
        docs.append({'name': name, 'type': 'collection'} if cmd.get('nameOnly') else doc)
    return open_cursor('%s.$cmd.listCollections' % db, docs,
                       (cmd.get('cursor') or {}).get('batchSize'))


def matches_simple(doc, query):
    scratch = CLIENT['__mdai_scratch__']['match']
    scratch.delete_many({})
    scratch.insert_one(dict(doc))
    hit = scratch.count_documents(query) > 0
    scratch.delete_many({})
    return hit


def cmd_drop(db, cmd, conn):
    name = cmd['drop']
    if not collection_exists(db, name):
        raise CommandError('ns not found', 26, 'NamespaceNotFound')
    CLIENT[db].drop_collection(name)
    return {'ns': '%s.%s' % (db, name), 'ok': 1.0}


def cmd_drop_database(db, cmd, conn):
    CLIENT.drop_database(db)
    return {'dropped': db, 'ok': 1.0}


def cmd_list_databases(db, cmd, conn):
    names = [n for n in CLIENT.list_database_names() if not n.startswith('__mdai')]
    return {'databases': [{'name': n, 'sizeOnDisk': 0, 'empty': False} for n in names],
            'totalSize': 0, 'ok': 1.0}


def cmd_hello(db, cmd, conn):
    return hello_reply(conn.connection_id)


def cmd_build_info(db, cmd, conn):
    return {'version': '6.0.0', 'gitVersion': 'mongomock', 'versionArray': [6, 0, 0, 0],
            'bits': 64, 'maxBsonObjectSize': 16 * 1024 * 1024, 'ok': 1.0}


def cmd_ok(db, cmd, conn):
    return {'ok': 1.0}


def cmd_transactions(db, cmd, conn):
    raise CommandError('Transaction numbers are only allowed on a replica set member or mongos',
                       20, 'IllegalOperation')


COMMANDS = {
    'find': cmd_find,
    'getmore': cmd_get_more,
    'killcursors': cmd_kill_cursors,
    'insert': cmd_insert,
    'update': cmd_update,
    'delete': cmd_delete,
    'findandmodify': cmd_find_and_modify,
    'aggregate': cmd_aggregate,
    'count': cmd_count,
    'distinct': cmd_distinct,
    'create': cmd_create,
    'createindexes': cmd_create_indexes,
    'listindexes': cmd_list_indexes,
    'dropindexes': cmd_drop_indexes,
    'deleteindexes': cmd_drop_indexes,
    'listcollections': cmd_list_collections,
    'drop': cmd_drop,
    'dropdatabase': cmd_drop_database,
    'listdatabases': cmd_list_databases,
    'hello': cmd_hello,
    'ismaster': cmd_hello,
    'ping': cmd_ok,
    'buildinfo': cmd_build_info,
    'endsessions': cmd_ok,
    'killsessions': cmd_ok,
    'getlasterror': cmd_ok,
    'getparameter': cmd_ok,
    'getcmdlineopts': lambda db, cmd, conn: {'argv': [], 'parsed': {}, 'ok': 1.0},
    'serverstatus': lambda db, cmd, conn: {'host': 'mongomock', 'version': '6.0.0', 'ok': 1.0},
    'connectionstatus': lambda db, cmd, conn: {'authInfo': {'authenticatedUsers': [],
                                                            'authenticatedUserRoles': []},
                                               'ok': 1.0},
    'committransaction': cmd_transactions,
    'aborttransaction': cmd_transactions,
}


def error_reply(message, code, code_name):
    return {'ok': 0.0, 'errmsg': message, 'code': code, 'codeName': code_name}


def run_command(body, conn):
    if not body:
        return error_reply('empty command', 9, 'FailedToParse')
    name = next(iter(body))
    db = body.get('$db', 'admin')
    handler = COMMANDS.get(name.lower())
    if handler is None:
        return error_reply("no such command: '%s'" % name, 59, 'CommandNotFound')
    if body.get('startTransaction'):
        return error_reply('Transactions are not supported by the MongoDB test server '
                           '(use a replica-set mongod)', 20, 'IllegalOperation')
    try:
        with LOCK:
            return handler(db, body, conn)
    except CommandError as e:
        return error_reply(str(e), e.code, e.code_name)
    except WriteError as e:
        reply = error_reply(e.error['errmsg'], 11000, 'DuplicateKey')
        reply.update({k: v for k, v in e.error.items() if k in ('keyPattern', 'keyValue')})
        return reply
    except DuplicateKeyError as e:
        return error_reply('E11000 duplicate key error: %s' % e, 11000, 'DuplicateKey')
    except OperationFailure as e:
        return error_reply(str(e), e.code or 2, 'BadValue')
    except NotImplementedError as e:
        sys.stderr.write('not implemented by mongomock: %s %r\n' % (e, body))
        return error_reply('not implemented by the test server: %s' % e, 115, 'CommandNotSupported')
    except Exception as e:  # noqa: BLE001 - the server must answer, never drop the connection
        sys.stderr.write('command %s failed: %s\n%s' % (name, e, traceback.format_exc()))
        return error_reply('%s: %s' % (type(e).__name__, e), 1, 'InternalError')


# --- server ---------------------------------------------------------------------------------

class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.connection_id = next(CONNECTION_IDS)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        try:
            self.serve()
        except (ConnectionResetError, BrokenPipeError):
            pass

    def serve(self):
        sock = self.request
        while True:
            header = read_exact(sock, 16)
            if header is None:
                return
            length, request_id, _, op_code = struct.unpack('<iiii', header)
            payload = read_exact(sock, length - 16)
            if payload is None:
                return
            if op_code == OP_MSG:
                try:
                    flags, body = parse_op_msg(payload)
                    reply = run_command(body, self)
                except CommandError as e:
                    flags, reply = 0, error_reply(str(e), e.code, e.code_name)
                if flags & 2:  # moreToCome: the client expects no answer
                    continue
                sock.sendall(op_msg_reply(request_id, reply))
            elif op_code == OP_QUERY:
                sock.sendall(op_reply(request_id, self.legacy_query(payload)))
            else:
                sys.stderr.write('unsupported opcode %d\n' % op_code)
                return

    def legacy_query(self, payload):
        _flags = struct.unpack_from('<i', payload, 0)[0]
        namespace, pos = read_cstring(payload, 4)
        pos += 8  # numberToSkip, numberToReturn
        query, _ = decode_doc(payload, pos)
        if '$query' in query:
            query = query['$query']
        if not namespace.endswith('.$cmd'):
            return error_reply('OP_QUERY is only supported for commands', 352, 'UnsupportedOpQueryCommand')
        name = next(iter(query), '').lower()
        if name not in ('ismaster', 'hello', 'ping', 'buildinfo'):
            return error_reply('OP_QUERY is only supported for the handshake', 352, 'UnsupportedOpQueryCommand')
        query['$db'] = namespace[:-len('.$cmd')]
        return run_command(query, self)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    print('listening %d' % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
