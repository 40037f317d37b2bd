#!/usr/bin/python3
"""The handshake and monitoring commands answer while another command holds the server's global
lock (a long scan of another connection), as a mongod answers its heartbeat. Run by
test/mongo-test-server.e2e-spec.ts: /usr/bin/python3 test_lock_free.py; exit 0 when it holds."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from commands import run_command  # noqa: E402
from engine import LOCK  # noqa: E402


class Connection:
    connection_id = 1


class LockFreeTest(unittest.TestCase):
    def test_handshake_answers_while_the_lock_is_held(self):
        for name in ('hello', 'isMaster', 'ping', 'buildInfo', 'endSessions', 'getParameter',
                     'serverStatus', 'connectionStatus'):
            replies = []
            # this thread holds the lock, as a long command of another connection does
            with LOCK:
                caller = threading.Thread(
                    target=lambda: replies.append(run_command({name: 1, '$db': 'admin'},
                                                              Connection())),
                    daemon=True)
                caller.start()
                # a bound for a machine under load, not a timing: behind the lock it never answers
                caller.join(30)
            self.assertEqual(len(replies), 1, '%s waited for the global lock' % name)
            self.assertEqual(replies[0].get('ok'), 1.0, '%s: %r' % (name, replies[0]))
            caller.join()

    def test_a_collection_command_still_waits_for_the_lock(self):
        replies = []
        with LOCK:
            caller = threading.Thread(
                target=lambda: replies.append(run_command({'find': 'things', '$db': 'lockfree'},
                                                          Connection())),
                daemon=True)
            caller.start()
            caller.join(0.2)
            self.assertEqual(replies, [])
        caller.join()
        self.assertEqual(replies[0].get('ok'), 1.0)


if __name__ == '__main__':
    unittest.main()
