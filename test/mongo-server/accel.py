"""Equality lookups for the test server, so a chained append does not scan its collection.

mongomock answers every query and every unique-index check by scanning the collection, which
makes a ledger of a few thousand rows quadratic. This keeps, per collection, lazily built
hash maps from one field's scalar value to the ids holding it (in insertion order). Inserts
update them; any other write to the collection drops them (they are rebuilt on the next read).
Collections with a TTL index are never cached (mongomock deletes expired documents on reads).
A field is only indexed while every document holds a scalar there; otherwise queries scan.
"""
import datetime

import bson
from mongomock import collection as mm_collection
from mongomock import filtering, helpers

CACHE = {}  # (db, coll) -> {field: {key: [ids]} or None when the field is not indexable}
STATE = {'inserting': False}


class _Unindexable(Exception):
    pass


def scalar_key(value):
    """A hashable key with MongoDB's equality (1 == 1.0, True != 1); raises for arrays/documents."""
    if value is None:
        return ('null',)
    if isinstance(value, bool):
        return ('bool', value)
    if isinstance(value, (int, float)):
        return ('num', value)
    if isinstance(value, (str, bytes, bson.ObjectId, datetime.datetime)):
        return (type(value).__name__, value)
    raise _Unindexable()


def _value(doc, field):
    try:
        return helpers.get_value_by_dot(doc, field)
    except (KeyError, TypeError, IndexError):
        return None


def _map_value(doc, field):
    """`field`'s value as an equality map keys it; raises when the path runs through an array
    (`a.b` then matches any element's `b`, which one key per document cannot say)."""
    value = doc
    for part in field.split('.'):
        if isinstance(value, list):
            raise _Unindexable()
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def invalidate(db, name=None):
    for key in [k for k in CACHE if k[0] == db and (name is None or k[1] == name)]:
        del CACHE[key]


def _cacheable(coll):
    return not coll._store._ttl_indexes


def _field_map(coll, field):
    """{key: [ids]} for `field`, or None when some document holds a non-scalar there."""
    fields = CACHE.setdefault((coll.database.name, coll.name), {})
    if field not in fields:
        built = {}
        try:
            for doc_id, doc in coll._store._documents.items():
                built.setdefault(scalar_key(_map_value(doc, field)), []).append(doc_id)
        except _Unindexable:
            built = None
        fields[field] = built
    return fields[field]


def record_insert(coll, doc):
    """Adds a just-inserted document to the cached maps of its collection."""
    fields = CACHE.get((coll.database.name, coll.name))
    if not fields:
        return
    doc_id = doc['_id'] if not isinstance(doc['_id'], dict) else helpers.hashdict(doc['_id'])
    for field, built in list(fields.items()):
        if built is None:
            continue
        try:
            ids = built.setdefault(scalar_key(_map_value(doc, field)), [])
        except _Unindexable:
            fields[field] = None
            continue
        if not ids or ids[-1] != doc_id:  # a map built during the insert already holds it
            ids.append(doc_id)


def _equalities(spec):
    for field, value in spec.items():
        if field.startswith('$') or isinstance(value, (dict, list)):
            continue
        try:
            yield field, scalar_key(value)
        except _Unindexable:
            continue


def candidates(coll, spec):
    """The documents that may match `spec`, in natural order, or None to scan them all."""
    if not _cacheable(coll):
        return None
    best = None
    for field, key in _equalities(spec):
        built = _field_map(coll, field)
        if built is None:
            continue
        ids = built.get(key, [])
        if best is None or len(ids) < len(best):
            best = ids
    if best is None:
        return None
    docs = coll._store._documents
    return [docs[i] for i in dict.fromkeys(best) if i in docs]


def iter_matching(coll, spec):
    """mongomock's `_iter_documents`, through the equality maps when the filter allows it."""
    found = candidates(coll, spec)
    if found is None:
        return coll._iter_documents(spec)
    return (doc for doc in found if filtering.filter_applies(spec, doc))


_original_ensure_uniques = mm_collection.Collection._ensure_uniques


def _ensure_uniques(self, new_data):
    """Unique-index check of an insert through the equality maps (the new document is already
    in the store, not yet in the maps). Any other caller, or an index the maps cannot serve,
    goes to mongomock's scan."""
    if not STATE['inserting'] or not _cacheable(self):
        return _original_ensure_uniques(self, new_data)
    for index in self._store.indexes.values():
        if not index.get('unique'):
            continue
        fields = [k for k, _ in index['key']]
        try:
            values = [_map_value(new_data, f) for f in fields]
        except _Unindexable:
            return _original_ensure_uniques(self, new_data)
        if index.get('partialFilterExpression') is not None:
            return _original_ensure_uniques(self, new_data)
        if index.get('sparse') and all(v is None for v in values):
            continue
        try:
            built = _field_map(self, fields[0])
            key = scalar_key(values[0])
        except _Unindexable:
            built = None
        if built is None:
            return _original_ensure_uniques(self, new_data)
        docs = self._store._documents
        for doc_id in built.get(key, []):
            other = docs.get(doc_id)
            if other is None or other is new_data:
                continue
            if all(_value(other, f) == v for f, v in zip(fields[1:], values[1:])):
                raise mm_collection.DuplicateKeyError('E11000 Duplicate Key Error', 11000)


mm_collection.Collection._ensure_uniques = _ensure_uniques


def insert_one(coll, doc):
    """Inserts through mongomock with the fast unique check, then records the document."""
    STATE['inserting'] = True
    try:
        coll.insert_one(doc)
    finally:
        STATE['inserting'] = False
    if _cacheable(coll):
        record_insert(coll, doc)
