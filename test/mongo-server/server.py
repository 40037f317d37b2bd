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

What it does not emulate (see README "Testing on MongoDB"): transactions (it refuses
startTransaction rather than apply writes it could not roll back), real concurrency (one global
lock runs one command at a time, except a short window inside an upsert that matched nothing,
so upsert races happen; the handshake and monitoring commands, hello / isMaster / ping /
buildInfo and the like, run without it, as a mongod answers the driver's heartbeat whatever
else runs), TTL timing (mongomock deletes expired documents at once, not within a
minute), authentication, read/write concerns, query plans (indexes are recorded and unique ones
enforced; every query is a scan), change streams.

Usage: /usr/bin/python3 server.py [--port 0] [--host 127.0.0.1]
Prints "listening <port>" on stdout once it accepts connections.
"""
import argparse
import itertools
import socket
import socketserver
import struct
import sys

from commands import error_reply, run_command
from wire import OP_MSG, OP_QUERY, decode_doc, op_msg_reply, op_reply, parse_op_msg, read_cstring, read_exact

CONNECTION_IDS = itertools.count(1)


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
                except (ValueError, IndexError, struct.error) as e:
                    flags, reply = 0, error_reply('bad message: %s' % e, 9, 'FailedToParse')
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
