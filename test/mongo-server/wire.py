"""MongoDB wire framing for the test server: OP_MSG and the legacy OP_QUERY / OP_REPLY."""
import itertools
import struct

import bson
from bson.codec_options import CodecOptions

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
OP_COMPRESSED = 2012

CODEC = CodecOptions(document_class=dict, tz_aware=False)
REQUEST_IDS = itertools.count(1)


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
                raise ValueError('document sequence before the body')
            body.setdefault(identifier, []).extend(docs)
        else:
            raise ValueError('unknown OP_MSG section kind %d' % kind)
    return flags, body

def frame(op_code, response_to, payload):
    header = struct.pack('<iiii', 16 + len(payload), next(REQUEST_IDS), response_to, op_code)
    return header + payload

def op_msg_reply(response_to, doc):
    return frame(OP_MSG, response_to, struct.pack('<I', 0) + b'\x00' + bson.encode(doc))

def op_reply(response_to, doc):
    payload = struct.pack('<iqii', 0, 0, 0, 1) + bson.encode(doc)
    return frame(OP_REPLY, response_to, payload)
