"""Helper processes: a big import or export has a second Python process do half of the work, so that it uses two
cores. Both start the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

# The folder holding this audit_cli: a helper imports the very code that started it, installed or not.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(code: str, *args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """`python -c CODE ARGS...` with this interpreter, its stderr dropped (the starting process reports what
    fails). Raises OSError when it cannot be started."""
    path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    # `python -c` puts the working folder first on sys.path: an import started in a checkout of another version
    # had its helper import that version, and failed on the first frame it did not understand.
    code = f"import sys; sys.path[:] = [p for p in sys.path if p]; {code}"
    return subprocess.Popen([sys.executable, "-c", code, *args], stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": path, **(env or {})}, **popen)


def widen(pipe: Any) -> None:
    """Let a pipe from a helper hold a megabyte (Linux's limit for an unprivileged process, fs.pipe-max-size), not
    64 KiB: fewer switches between the processes, and the helper may run a little ahead."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 2**20)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or a lower limit: the default pipe, a little slower
