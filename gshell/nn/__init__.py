"""nn.Modules of gshell."""
from gshell.nn.gshell_geometry import GShellGeometry

__all__ = ["GShellGeometry"]
