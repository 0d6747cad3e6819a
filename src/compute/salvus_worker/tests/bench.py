"""Timings and memory of the worker (not a test):

    /usr/bin/python3 src/compute/salvus_worker/tests/bench.py
"""

import os
import statistics
import sys
import time

from harness import Worker, in_worker, salvus_worker


def bench():
    t = time.perf_counter()
    salvus_worker.init_zygote('sage')
    print('init_zygote(sage)              %8.2f s' % (time.perf_counter() - t))
    print('zygote RSS                     %8.1f MB' % (_smaps(os.getpid())['Rss'] / 1024))

    def measure(s):
        t = time.perf_counter()
        s.run('2+2')
        facts = {'first 2+2 us': (time.perf_counter() - t) * 1e6}

        def median_us(code, n):
            times = []
            for _ in range(n):
                t = time.perf_counter()
                salvus_worker.execute(code)
                times.append(time.perf_counter() - t)
            sys.stdout.take()
            return statistics.median(times) * 1e6

        facts['execute 2+2 us (median of 1000)'] = median_us('2+2', 1000)
        facts['execute 2+N us, distinct cells (median of 1000)'] = statistics.median(
            _timed(lambda i: salvus_worker.execute('2+%d' % (i + 3)), 1000)) * 1e6
        sys.stdout.take()
        facts['print loop 10^4 ms (median of 50)'] = median_us(
            'for i in range(10^4): print(i)', 50) / 1000
        t = time.perf_counter()
        s.run('plot(sin(x), (x, 0, 2*pi)).save(tmp_filename(ext=".png"))')
        facts['first plot save s'] = time.perf_counter() - t
        return facts

    t = time.perf_counter()
    w = Worker(lambda s: {'init_worker ms': 0})
    w.result()
    print('fork + init_worker + exit       %8.1f ms (incl. test harness)' %
          ((time.perf_counter() - t) * 1000))
    print('worker USS after 2+2            %8.1f MB' % in_worker(_uss_body))
    for k, v in in_worker(measure).items():
        print('%-45s %10.2f' % (k, v))


def _uss_body(s):
    s.run('2+2')
    with open('/proc/self/smaps_rollup') as f:
        m = {}
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(':'):
                m[parts[0][:-1]] = int(parts[1])
    return (m['Private_Clean'] + m['Private_Dirty']) / 1024


def _timed(fn, n):
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return times


def _smaps(pid):
    m = {}
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(':'):
                m[parts[0][:-1]] = int(parts[1])
    return m


if __name__ == '__main__':
    bench()
