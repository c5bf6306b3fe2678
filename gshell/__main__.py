"""``python -m gshell``: the same as the ``gshell`` command."""
import sys

from gshell.cli import main

if __name__ == "__main__":
    sys.exit(main())
