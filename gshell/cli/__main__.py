"""``python -m gshell.cli``: the same as the ``gshell`` command."""
import sys

from gshell.cli import main

sys.exit(main())
