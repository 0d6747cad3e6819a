"""The test harness of the salvus_worker package, run with Debian's Python
(it has Sage).  Each *_test.py here is run on its own:

    /usr/bin/python3 src/compute/salvus_worker/tests/cells_test.py

The test process plays the zygote: a test case's setUpClass calls
init_zygote('sage') once, and each test forks workers the way the C++
zygote does (fresh 0700 home as cwd, HOME/DOT_SAGE/MPLCONFIGDIR/TMPDIR set,
sys.stdout/sys.stderr replaced by objects with only write/flush), runs cells
in them and gets the results back as JSON through a pipe.  A fake C++ module
`_salvus` records the rich output (_salvus.display calls) of each request.

    /usr/bin/python3 src/compute/salvus_worker/tests/bench.py

prints timings and memory instead of testing.
"""

import base64
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
import unittest

# src/compute, where the package is
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import salvus_worker  # noqa: E402

WORKER_TIMEOUT = 60  # seconds; a hung worker fails its test instead of the run


class Capture:
    """Like the C++ stream objects as far as the package may rely on them:
    write() and flush(), nothing else."""

    def __init__(self):
        self.parts = []

    def write(self, s):
        self.parts.append(s)
        return len(s)

    def flush(self):
        pass

    def take(self):
        s = ''.join(self.parts)
        self.parts = []
        return s


DISPLAYS = []  # the _salvus.display calls of the current request


def _fake_display(mime, text='', data=None, name='', width=0, height=0):
    """Stands in for the C++ _salvus.display (with its argument types)."""
    if not (isinstance(mime, str) and isinstance(text, str) and isinstance(name, str)
            and (data is None or type(data) is bytes)
            and type(width) is int and type(height) is int):
        raise TypeError('display(%r, %r, %r, %r, %r, %r): bad argument types'
                        % (mime, text[:50], type(data), name, width, height))
    DISPLAYS.append({
        'mime': mime, 'text': text, 'name': name, 'width': width, 'height': height,
        'data': None if data is None else base64.b64encode(data).decode(),
        'at': sum(len(p) for p in getattr(sys.stdout, 'parts', ())),  # stdout so far
    })


_salvus = types.ModuleType('_salvus')
_salvus.display = _fake_display
sys.modules['_salvus'] = _salvus


def data_of(display):
    return base64.b64decode(display['data'])


class Session:
    """Inside a forked worker: runs cells and records what they printed (and
    displayed: the key 'displays' when there is rich output)."""

    def __init__(self, home):
        self.home = home

    def run(self, code):
        return self._request(salvus_worker.execute, code)

    def update(self, interact_id, values):
        if not isinstance(values, str):
            values = json.dumps(values)
        return self._request(salvus_worker.interact_update, interact_id, values)

    def _request(self, fn, *args):
        sys.stdout.take()
        sys.stderr.take()
        DISPLAYS.clear()
        status = fn(*args)
        r = {'status': status, 'out': sys.stdout.take(), 'err': sys.stderr.take()}
        if DISPLAYS:
            r['displays'] = list(DISPLAYS)
        return r


class Worker:
    """A forked worker running ``body(session)``; result() returns what body
    returned (it must be JSON-serialisable) or raises with the child's error."""

    def __init__(self, body, seed=1):
        self.base = tempfile.mkdtemp(prefix='salvus-worker-test-')
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(read_fd)
                result = self._child(body, seed)
                data = json.dumps(result).encode()
                while data:
                    data = data[os.write(write_fd, data):]
            finally:
                os._exit(0)
        os.close(write_fd)
        self.pid = pid
        self.fd = read_fd
        self.home = os.path.join(self.base, 'home')

    def _child(self, body, seed):
        try:
            home = os.path.join(self.base, 'home')
            os.mkdir(home, 0o700)
            os.chdir(home)
            os.environ['HOME'] = home
            os.environ['DOT_SAGE'] = os.path.join(home, '.sage')
            os.environ['MPLCONFIGDIR'] = os.path.join(home, '.config', 'matplotlib')
            os.environ['TMPDIR'] = home
            sys.stdout = Capture()
            sys.stderr = Capture()
            salvus_worker.init_worker(home, seed)
            return {'value': body(Session(home))}
        except BaseException:
            return {'failure': traceback.format_exc()}

    def result(self):
        deadline = time.monotonic() + WORKER_TIMEOUT
        chunks = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    os.kill(self.pid, signal.SIGKILL)
                    raise AssertionError('worker timed out')
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            os.waitpid(self.pid, 0)
            shutil.rmtree(self.base, ignore_errors=True)
        if not chunks:
            raise AssertionError('worker died without a result')
        result = json.loads(b''.join(chunks))
        if 'failure' in result:
            raise AssertionError('in the worker:\n' + result['failure'])
        return result['value']


def in_worker(body, seed=1):
    return Worker(body, seed).result()


def run_cells(*cells, seed=1):
    """Runs the cells in order in one fresh worker; returns their results."""
    return in_worker(lambda s: [s.run(c) for c in cells], seed)


def png_size(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR', data[:16]
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


class SageTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        salvus_worker.init_zygote('sage')  # once per process; later calls return

    def assertOk(self, r, out):
        self.assertEqual(r, {'status': 'ok', 'out': out, 'err': ''})

    def assertDisplays(self, r, *mimes):
        """r's displays have these MIME types; returns them."""
        displays = r.get('displays', [])
        self.assertEqual([d['mime'] for d in displays], list(mimes), r)
        return displays


def interact_message(display):
    """The JSON of an interact display, checked against its name."""
    assert display['mime'] == 'application/x-salvus-interact', display
    message = json.loads(display['text'])
    assert message['id'] == display['name'], display
    return message
