"""nn.Modules of gshell."""
from gshell.nn.encoding import GridHashEncoding, SimplexHashEncoding, encoding_from_config
from gshell.nn.gshell_geometry import GShellGeometry
from gshell.nn.unet3d import UNet3D

__all__ = ["GShellGeometry", "GridHashEncoding", "SimplexHashEncoding", "UNet3D", "encoding_from_config"]
