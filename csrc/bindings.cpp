// The one pybind11 module of gshell: every kernel is bound here.
#include <torch/extension.h>

#include "gshell_cut/gshell_cut.h"
#include "hash_encoding/hash_encoding.h"
#include "marching_cubes/marching_cubes.h"
#include "marching_tets/marching_tets.h"
#include "mesh_components/mesh_components.h"
#include "point_location/point_location.h"
#include "rasterize/rasterize.h"
#include "surface_features/surface_features.h"

#ifdef WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace {

bool with_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

py::dict build_info() {
  py::dict d;
  d["with_cuda"] = with_cuda();
#ifdef WITH_CUDA
  d["cuda_version"] = CUDART_VERSION;
#else
  d["cuda_version"] = py::none();
#endif
  d["torch_version"] = GSHELL_TORCH_VERSION;
  d["sanitize"] = GSHELL_SANITIZE_BUILD;
  return d;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "gshell C++/CUDA kernels";
  m.def("with_cuda", &with_cuda, "Whether the CUDA kernels were compiled");
  m.def("build_info", &build_info, "How this extension was built");
  m.def("marching_tets", &gshell::marching_tets, "Marching tetrahedra topology",
        py::arg("sdf"), py::arg("tets"), py::arg("edges"), py::arg("tet_edges"),
        py::arg("edge_first_tet"), py::arg("flip"));
  m.def("gshell_cut", &gshell::gshell_cut, "Cut a triangle mesh where msdf <= 0",
        py::arg("faces"), py::arg("msdf"));
  m.def("marching_cubes", &gshell::marching_cubes, "Marching cubes topology", py::arg("grid"),
        py::arg("iso"));
  m.def("hash_encoding_forward", &gshell::hash_encoding_forward, "Hash encoding forward",
        py::arg("x"), py::arg("table"), py::arg("offsets"), py::arg("scales"), py::arg("res"),
        py::arg("hashed"), py::arg("simplex"));
  m.def("hash_encoding_backward", &gshell::hash_encoding_backward, "Hash encoding backward",
        py::arg("grad_out"), py::arg("x"), py::arg("table"), py::arg("offsets"),
        py::arg("scales"), py::arg("res"), py::arg("hashed"), py::arg("simplex"),
        py::arg("need_x"), py::arg("need_table"));
  m.def("hash_encoding_backward_backward", &gshell::hash_encoding_backward_backward,
        "Hash encoding double backward", py::arg("gg_x"), py::arg("gg_table"),
        py::arg("grad_out"), py::arg("x"), py::arg("table"), py::arg("offsets"), py::arg("scales"),
        py::arg("res"), py::arg("hashed"), py::arg("simplex"), py::arg("need_grad_out"),
        py::arg("need_x"), py::arg("need_table"));
  m.def("connected_components", &gshell::connected_components,
        "Connected components of an edge list", py::arg("edges"), py::arg("num_verts"));
  m.def("rasterize", &gshell::rasterize,
        "Closest triangle and perspective-correct barycentrics per pixel (nvdiffrast conventions)",
        py::arg("pos"), py::arg("tri"), py::arg("height"), py::arg("width"));
  m.def("point_location", &gshell::point_location,
        "Containing triangle and barycentrics of 2D query points (nearest boundary point outside)",
        py::arg("points"), py::arg("triangles"), py::arg("queries"));
  m.def("surface_features", &gshell::surface_features,
        "Metric, Christoffel symbols, curvatures and normals of a structured surface grid",
        py::arg("points"), py::arg("periodic_u"), py::arg("periodic_v"));
}
