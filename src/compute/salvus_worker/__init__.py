"""The Python side of a Salvus compute worker.

The C++ zygote embeds CPython, imports this package and calls
``init_zygote(kernel)`` once; it then forks one worker per session, and in the
worker calls ``init_worker(home, seed)``, ``execute(code)`` once per request and
``finish_worker()`` before exiting.  Before ``init_worker`` the C++ side has
already switched uid, chdir'd into the session's fresh home, set HOME,
DOT_SAGE, MPLCONFIGDIR and TMPDIR, and replaced sys.stdout / sys.stderr with
its own streams.  Everything here writes through ``sys.stdout`` /
``sys.stderr`` looked up at call time and never replaces them.

Cells run the way Sage worksheets ran them: the whole cell is preparsed (for
the 'sage' kernel), every top-level statement runs in order, and the value of
each bare top-level expression statement is shown through sys.displayhook.  A
cell whose last non-blank line ends with ';' does not show its last value.
Tracebacks name the cell ``<cell-N>`` (N counts requests in this worker) and
show the original (not preparsed) line numbers and source lines.

A cell whose first line is ``%mode`` runs in another mode (``%python``,
``%sh``, ``%gp``, ``%gap``, ``%maxima``, ``%singular``, ``%html``, ``%md``,
``%latex``); a one-line cell ``obj?`` / ``obj??`` shows help / source.

Rich output (images, HTML, LaTeX, Markdown, files, interacts, help) leaves
through ``_salvus.display(mime, text, data, name, width, height)``, a
function of the C++ module ``_salvus`` that sends one message in order with
the text output (binary ``data`` becomes a blob).  The functions the C++
side calls are:

    init_zygote(kernel)                       once, in the zygote
    init_worker(home, seed); warm_worker()    once per forked worker
    execute(code) -> 'ok' | 'error' | 'interrupted'
    interact_update(interact_id, values_json) -> 'ok' | 'error' | 'interrupted'
    complete(code, cursor) -> (matches, start, end)      never raises
    finish_worker()

The JSON of interacts (application/x-salvus-interact) is described in
docs/protocol.md ("Interacts").

The modules, bottom up: state (who owns which global), output, tracebacks,
sage_backend, display, figures, cell_code, cells, seeding, shell, modes,
help, serve (execute), paths, controls, slider, inputs, interact, session
(the names a session starts with), completion, zygote (init_zygote),
worker (init_worker, warm_worker, finish_worker).  The C++ side embeds
every file of this folder in the binary (src/compute/CMakeLists.txt) and
imports them from there (python.cc); tests/ holds the tests.

Facts about Sage 9.5 this relies on are in /work/shared/SAGE.md.

Thread-safety: none; everything runs on the interpreter's main thread.
"""


from .completion import complete
from .interact import interact_update
from .serve import execute
from .worker import finish_worker, init_worker, warm_worker
from .zygote import init_zygote

__all__ = ['init_zygote', 'init_worker', 'warm_worker', 'execute', 'interact_update',
           'complete', 'finish_worker']
