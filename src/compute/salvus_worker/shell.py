"""The %sh mode: a cell run by /bin/bash, its output streamed as it comes."""

import collections
import os
import sys


def _run_shell(script):
    """Runs ``script`` with /bin/bash, its stdout and stderr going to
    sys.stdout / sys.stderr as they come, until bash exits.  An interrupt
    (SIGINT to the worker) is passed on to bash and everything it started.
    The script stays in the worker's process group: what it leaves running
    in the background ends with the session."""
    import subprocess
    import tempfile
    path = None
    if len(script) > 100000:  # the kernel limits one argument to 128 KiB
        fd, path = tempfile.mkstemp(suffix='.sh')
        with os.fdopen(fd, 'w') as f:
            f.write(script)
        argv = ['/bin/bash', path]
    else:
        argv = ['/bin/bash', '-c', script]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            _pump_output(proc)
            rc = proc.wait()
        except BaseException:
            _stop_process_tree(proc)
            raise
        finally:
            proc.stdout.close()
            proc.stderr.close()
    finally:
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
    if rc != 0:
        if rc < 0:
            sys.stderr.write('(killed by signal %d)\n' % -rc)
        else:
            sys.stderr.write('(exit code %d)\n' % rc)
        return 'error'
    return 'ok'


def _pump_output(proc):
    """Copies proc's stdout/stderr pipes to sys.stdout/sys.stderr until both
    are closed or proc has exited (children left in the background may hold
    the pipes open)."""
    import codecs
    import select
    streams = {}
    for pipe, name in ((proc.stdout, 'stdout'), (proc.stderr, 'stderr')):
        streams[pipe.fileno()] = (codecs.getincrementaldecoder('utf-8')('replace'), name)
    pidfd = None
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pass
    exited = False
    drain = 64  # reads after bash exited: a background job may write forever
    try:
        while streams:
            fds = list(streams)
            if pidfd is not None and not exited:
                fds.append(pidfd)
            timeout = 0 if exited else (None if pidfd is not None else 0.1)
            ready = select.select(fds, [], [], timeout)[0]
            if pidfd is not None and pidfd in ready:
                exited = True
            elif pidfd is None and not exited and proc.poll() is not None:
                exited = True
                continue  # drain what is already in the pipes
            if exited:
                drain -= 1
                if not ready or drain < 0:
                    break  # bash is gone and the pipes hold nothing more
            for fd in ready:
                if fd == pidfd:
                    continue
                decoder, name = streams[fd]
                chunk = os.read(fd, 65536)
                if chunk:
                    text = decoder.decode(chunk)
                else:
                    text = decoder.decode(b'', True)
                    del streams[fd]
                if text:
                    getattr(sys, name).write(text)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _process_tree(pid):
    """pid and its descendants (from /proc), parents first."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b')') + 2:].split()[1])  # after "(comm) state"
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(entry))
    tree = [pid]
    for p in tree:
        tree.extend(children.get(p, ()))
    return tree


def _stop_process_tree(proc):
    """Interrupts bash and all it started (SIGINT), then kills (SIGKILL)
    what is still there after 2 s, or at once on a second interrupt."""
    import signal
    import subprocess
    tree = []
    try:
        tree = _process_tree(proc.pid)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
        proc.wait(2)
    except (OSError, subprocess.TimeoutExpired, KeyboardInterrupt):
        pass
    finally:
        try:
            if proc.poll() is None:
                tree = tree + _process_tree(proc.pid)
        except OSError:
            pass
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
