"""What the commands share: the error type and exit codes, argument types, input and output checks.

Only the standard library is imported here, so that building the parser stays fast. Files are
written through :mod:`gshell._atomic` (a temporary file renamed over the destination).
"""
import argparse
import contextlib
import os
import sys
import warnings

EXIT_OK = 0
EXIT_FAILURE = 1      # an unexpected error
EXIT_USAGE = 2        # a usage or input error
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A usage or input error: printed as one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`CLIError` instead of exiting."""

    def error(self, message):
        raise CLIError("%s: error: %s (see '%s --help')" % (self.prog, message, self.prog))


def warn(cmd, message):
    """One line on stderr: ``gshell CMD: warning: MESSAGE``."""
    print("gshell %s: warning: %s" % (cmd, message), file=sys.stderr)


@contextlib.contextmanager
def saving_warnings(cmd):
    """Shows the UserWarnings of a write (what the format cannot hold) as one stderr line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    for w in caught:
        warn(cmd, str(w.message))


def log(args, *a):
    """print(*a) unless --quiet."""
    if not getattr(args, "quiet", False):
        print(*a)


# ------------------------------------------------------------------------------ argument types
def resolution(text):
    try:
        res = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an integer but got %r" % text) from None
    if not 2 <= res <= 512:
        raise argparse.ArgumentTypeError("expected an integer in [2, 512] but got %d" % res)
    return res


def int_list(text):
    try:
        vals = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers but got %r" % text) from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError("expected positive integers but got %r" % text)
    return vals


def _float_above(lo, strict):
    """An argument type: a finite number > lo (``strict``) or >= lo."""
    def parse(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number but got %r" % text) from None
        if not ((x > lo if strict else x >= lo) and x != float("inf")):
            raise argparse.ArgumentTypeError("expected a finite number %s %g but got %r"
                                             % (">" if strict else ">=", lo, text))
        return x
    return parse


positive_float = _float_above(0, strict=True)
non_negative_float = _float_above(0, strict=False)


def int_range(lo, hi):
    """An argument type: an integer in [lo, hi]."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer but got %r" % text) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("expected an integer in [%d, %d] but got %d" % (lo, hi, v))
        return v
    return parse


def index_range(text):
    """START:STOP with 0 <= START < STOP."""
    try:
        a, b = (int(t) for t in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected START:STOP (integers) but got %r" % text) from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError("expected 0 <= START < STOP but got %r" % text)
    return a, b


# ------------------------------------------------------------------------ input and output checks
def need_input(cmd, path):
    """Raises CLIError unless ``path`` is an existing file."""
    if not os.path.exists(path):
        raise CLIError("gshell %s: error: input file %r does not exist" % (cmd, path))
    if os.path.isdir(path):
        raise CLIError("gshell %s: error: input %r is a folder, expected a file" % (cmd, path))


def check_output(cmd, out, inputs, force):
    """Refuses to write over an input or an existing file without --force; creates the output's
    folder when only its last level is missing."""
    out_abs = os.path.abspath(out)
    for i in inputs:
        same = os.path.abspath(i) == out_abs
        if not same and os.path.exists(out):
            try:
                same = os.path.samefile(i, out)
            except OSError:
                same = False
        if same and not force:
            raise CLIError("gshell %s: error: output %r is the input file (use --force to replace it)"
                           % (cmd, out))
    if os.path.isdir(out):
        raise CLIError("gshell %s: error: output %r is a folder, expected a file path" % (cmd, out))
    if os.path.exists(out) and not force:
        raise CLIError("gshell %s: error: output %r exists (use --force to overwrite it)" % (cmd, out))
    ensure_folder(cmd, os.path.dirname(out) or ".")


def ensure_folder(cmd, folder, quiet=False):
    """Creates a missing output folder (see :func:`gshell._atomic.make_folder`: a chain of folders
    only below the working directory) and says so on stderr; a CLIError when it cannot."""
    from gshell._atomic import make_folder

    try:
        created = make_folder(folder)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise CLIError("gshell %s: error: %s" % (cmd, e)) from None
    if created and not quiet:
        print("gshell %s: created folder %r" % (cmd, os.fspath(folder)), file=sys.stderr)


def mesh_format(cmd, path):
    """The mesh format of ``path`` from its extension, or a CLIError."""
    from gshell import io as gio

    try:
        return gio.format_of(path, None)
    except ValueError as e:
        raise CLIError("gshell %s: error: %s" % (cmd, e)) from None
