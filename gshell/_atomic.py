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


def make_folder(folder):
    """Creates ``folder`` when it is missing, without ever creating a chain of folders in an
    unexpected place: a relative path below the working directory (``out/run1``) is created with
    its missing parents; any other path (absolute, or leaving the working directory) only when its
    parent exists, so a mistyped ``/data/x/y`` fails instead of creating ``/data``.

    Args:
        folder: str or os.PathLike.
    Returns:
        True when the folder was created, False when it existed.
    Raises:
        FileNotFoundError: the parent of an absolute or outside path does not exist.
        NotADirectoryError: ``folder`` or a parent exists and is not a folder.
    """
    given = os.fspath(folder) or "."
    path = os.path.abspath(given)
    if os.path.isdir(path):
        return False
    if os.path.exists(path):
        raise NotADirectoryError("Expected %r to be a folder but it is a file" % given)
    inside = not os.path.isabs(given) and os.path.normpath(given).split(os.sep)[0] != os.pardir
    parent = os.path.dirname(path)
    if not inside and not os.path.isdir(parent):
        raise FileNotFoundError("Expected the folder of %r to exist (only its last level is created) but %r "
                                "does not exist" % (given, parent))
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError("Expected the folders of %r but a file is in the way" % given) from None
    return True
