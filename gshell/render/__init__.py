"""Differentiable rendering primitives with nvdiffrast's API and semantics (Laine et al.,
"Modular Primitives for High-Performance Differentiable Rendering", 2020,
https://arxiv.org/abs/2011.03277): :func:`rasterize`, :func:`interpolate`, :func:`antialias`.

They use nvdiffrast when it is installed and the tensors are on CUDA (``backend="auto"``), and
gshell's own rasterizer (CPU, CUDA) with torch autograd otherwise. Camera helpers use OpenGL
conventions.
"""
from gshell.render.antialias import EdgeTopology, antialias, edge_topology
from gshell.render.camera import look_at, perspective, transform_pos, views_on_sphere
from gshell.render.color import linear_to_srgb, srgb_to_linear, tonemap
from gshell.render.interpolate import interpolate
from gshell.render.light import (EnvironmentLight, SGLight, SplitSumLight, direction_to_latlong,
                                 latlong_directions, latlong_solid_angles, sample_latlong)
from gshell.render.rasterize import rasterize

__all__ = ["rasterize", "interpolate", "antialias", "edge_topology", "EdgeTopology", "look_at",
           "perspective", "views_on_sphere", "transform_pos", "EnvironmentLight", "SplitSumLight", "SGLight",
           "latlong_directions", "latlong_solid_angles", "direction_to_latlong", "sample_latlong",
           "linear_to_srgb", "srgb_to_linear", "tonemap"]
