"""nn.Modules of gshell."""
from gshell.nn.encoding import GridHashEncoding, SimplexHashEncoding, encoding_from_config
from gshell.nn.gshell_geometry import GShellGeometry

__all__ = ["GShellGeometry", "GridHashEncoding", "SimplexHashEncoding", "encoding_from_config"]
