"""The commands the test server runs (what this project's mongoose code sends)."""
import datetime
import sys
import traceback

from bson.int64 import Int64
from pymongo.errors import DuplicateKeyError, OperationFailure

import accel

from engine import (CLIENT, CURSORS, LOCK, CommandError, WriteError, aggregate, apply_update, coll_of,
                    collection_exists, duplicate_key_error, find_documents, id_first, index_docs,
                    key_list, matches_simple, open_cursor, pipeline_update, sort_list,
                    target_id_for, update_dup_error, upsert_racing, is_operator_update)

MAX_WIRE_VERSION = 17  # MongoDB 6.0


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
            accel.insert_one(coll, doc)
            n += 1
        except DuplicateKeyError:
            errors.append(dict(duplicate_key_error(coll, doc), index=index))
            if ordered:
                break
    reply = {'n': n, 'ok': 1.0}
    if errors:
        reply['writeErrors'] = errors
    return reply


def cmd_update(db, cmd, conn):
    coll = coll_of(db, cmd, 'update')
    ordered = cmd.get('ordered', True)
    n = modified = 0
    upserted, errors = [], []
    for index, spec in enumerate(cmd.get('updates', [])):
        query = spec.get('q') or {}
        try:
            if spec.get('upsert') and not spec.get('multi') and target_id_for(coll, query) is None:
                raced_id = upsert_racing(coll, query, spec.get('u'))
                if raced_id is not None:
                    n += 1
                    upserted.append({'index': index, '_id': raced_id})
                    continue
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


def cmd_aggregate(db, cmd, conn):
    if cmd['aggregate'] == 1:
        raise CommandError('database-level aggregate is not supported', 115, 'CommandNotSupported')
    coll = coll_of(db, cmd, 'aggregate')
    docs = aggregate(db, coll, cmd.get('pipeline', []))
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


# writes other than insert drop the collection's equality maps (accel), before and after
MUTATING = {'update', 'delete', 'findandmodify', 'drop', 'create', 'createindexes',
            'dropindexes', 'deleteindexes'}


def invalidate_for(command, db, body):
    if command in MUTATING:
        accel.invalidate(db, body.get(next(iter(body))))
    elif command == 'dropdatabase':
        accel.invalidate(db)


# Handshake and monitoring commands: they read no collection, so they run without LOCK. A mongod
# answers the driver's heartbeat (hello / isMaster on its monitoring connection) whatever other
# operations are running; behind a long scan of another connection it would come late, and the
# driver then marks the server unknown and fails the operations it waits to select it for.
LOCK_FREE = {'hello', 'ismaster', 'ping', 'buildinfo', 'endsessions', 'killsessions',
             'getlasterror', 'getparameter', 'getcmdlineopts', 'serverstatus',
             'connectionstatus'}


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
        if name.lower() in LOCK_FREE:
            return handler(db, body, conn)
        with LOCK:
            try:
                invalidate_for(name.lower(), db, body)
                return handler(db, body, conn)
            finally:
                invalidate_for(name.lower(), db, body)
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
