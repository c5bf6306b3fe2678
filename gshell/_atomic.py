"""Atomic file writes: everything is written to a temporary file in the destination's folder and
renamed over the destination, so a reader never sees a partial file and a failed write leaves no
file behind (and an existing one untouched)."""
import os
import tempfile

import numpy as np


def write_atomic(path, write):
    """Calls ``write(tmp_path)`` on a temporary file beside ``path``, then renames it to ``path``.

    Args:
        path: str or os.PathLike; its folder must exist.
        write: callable taking the temporary file's path (the file exists, empty).
    Raises:
        FileNotFoundError: the folder of ``path`` does not exist.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError("Expected the folder of path to exist but %r does not" % folder)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(path, chunks):
    """Writes byte strings to ``path`` atomically, synced to disk before the rename."""
    def write(tmp):
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as fh:
            for c in chunks:
                fh.write(c)
            fh.flush()
            os.fsync(fh.fileno())
    write_atomic(path, write)


def save_npz(path, **arrays):
    """``numpy.savez`` to ``path`` atomically (the name is used as given: no ``.npz`` added)."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    write_atomic(path, write)
