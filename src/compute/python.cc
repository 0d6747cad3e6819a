#include "compute/python.h"

#include <pybind11/embed.h>

#include "compute/output.h"
#include "compute/salvus_worker_py.h"
#include "core/frame.h"
#include "core/sha1.h"

namespace py = pybind11;

namespace salvus::compute {
namespace {

OutputChannel* g_channel = nullptr;

// sys.stdout / sys.stderr of a worker: a text stream whose bytes go to the
// OutputChannel. Enough of io.TextIOBase for print(), logging, traceback,
// IPython-style code and most libraries.
struct Stream {
  int which;  // 0 stdout, 1 stderr

  size_t write(py::handle obj) {
    if (!PyUnicode_Check(obj.ptr())) {
      throw py::type_error("write() argument must be str, not " +
                           std::string(Py_TYPE(obj.ptr())->tp_name));
    }
    Py_ssize_t len = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &len);
    std::string replaced;
    if (data == nullptr) {  // lone surrogates: encode with replacement
      PyErr_Clear();
      py::bytes b = py::reinterpret_steal<py::bytes>(
          PyUnicode_AsEncodedString(obj.ptr(), "utf-8", "replace"));
      replaced = b;
      data = replaced.data();
      len = static_cast<Py_ssize_t>(replaced.size());
    }
    if (g_channel != nullptr) {
      g_channel->Write(which == 1 ? proto::Output::STDERR : proto::Output::STDOUT,
                       std::string_view(data, static_cast<size_t>(len)));
    }
    return static_cast<size_t>(PyUnicode_GetLength(obj.ptr()));
  }
};

struct BinaryStream {
  int which;
  size_t write(py::bytes b) {
    std::string_view v = b;
    if (g_channel != nullptr) {
      g_channel->Write(which == 1 ? proto::Output::STDERR : proto::Output::STDOUT, v);
    }
    return v.size();
  }
};

// _salvus.display(mime, text='', data=None, name='', width=0, height=0):
// rich output, in order with the text output. `data` (bytes) leaves as a
// Blob named by its SHA-1; the Display only names it.
void Display(const std::string& mime, const std::string& text, const py::object& data,
             const std::string& name, uint32_t width, uint32_t height) {
  // The Display, the Blob and their framing must fit in one frame.
  static constexpr size_t kMaxBlob = core::kDefaultMaxFrame - 64 * 1024;
  if (g_channel == nullptr || OutputChannel::InForkedChild()) {
    throw std::runtime_error("rich output is only available in the session's own process");
  }
  if (text.size() > kMaxBlob) throw py::value_error("display text too large");
  proto::Message blob, display;
  auto* d = display.mutable_display();
  d->set_mime(mime);
  d->set_text(text);
  d->set_name(name);
  d->set_width(width);
  d->set_height(height);
  if (!data.is_none()) {
    if (!PyBytes_Check(data.ptr())) throw py::type_error("data must be bytes");
    std::string_view bytes(PyBytes_AS_STRING(data.ptr()),
                           static_cast<size_t>(PyBytes_GET_SIZE(data.ptr())));
    if (bytes.size() > kMaxBlob) {
      throw py::value_error("too large to display: " + std::to_string(bytes.size()) +
                            " bytes (limit " + std::to_string(kMaxBlob) + ")");
    }
    auto* b = blob.mutable_blob();
    b->set_sha1(core::Sha1Hex(bytes));
    b->set_mime(mime);
    b->set_data(bytes.data(), bytes.size());
    d->set_blob(b->sha1());
  }
  if (!g_channel->SendDisplay(std::move(display), std::move(blob))) {
    throw py::value_error("output limit exceeded");
  }
}

py::object& WorkerModule() {
  static py::object* m = new py::object();  // never destroyed: lives as long as Python
  return *m;
}

}  // namespace
}  // namespace salvus::compute

PYBIND11_EMBEDDED_MODULE(_salvus, m) {
  using salvus::compute::BinaryStream;
  using salvus::compute::Stream;
  m.def("display", &salvus::compute::Display, py::arg("mime"), py::arg("text") = "",
        py::arg("data") = py::none(), py::arg("name") = "", py::arg("width") = 0,
        py::arg("height") = 0);
  m.def("set_target", [](std::string target) {
    if (salvus::compute::g_channel != nullptr)
      salvus::compute::g_channel->SetTarget(std::move(target));
  });
  py::class_<BinaryStream>(m, "BinaryStream")
      .def("write", &BinaryStream::write)
      .def("flush", [](BinaryStream&) {})
      .def("writable", [](BinaryStream&) { return true; })
      .def("isatty", [](BinaryStream&) { return false; });
  py::class_<Stream>(m, "Stream")
      .def(py::init([](int which) { return Stream{which}; }))
      .def("write", &Stream::write)
      .def("flush", [](Stream&) {})
      .def("isatty", [](Stream&) { return false; })
      .def("writable", [](Stream&) { return true; })
      .def("readable", [](Stream&) { return false; })
      .def("seekable", [](Stream&) { return false; })
      .def("fileno", [](Stream& s) { return s.which + 1; })
      .def("writelines",
           [](Stream& s, py::iterable lines) {
             for (auto l : lines) s.write(l);
           })
      .def_property_readonly("buffer", [](Stream& s) { return BinaryStream{s.which}; })
      .def_property_readonly("encoding", [](Stream&) { return "utf-8"; })
      .def_property_readonly("errors", [](Stream&) { return "replace"; })
      .def_property_readonly("closed", [](Stream&) { return false; })
      .def_property_readonly("line_buffering", [](Stream&) { return false; })
      .def_property_readonly("name",
                             [](Stream& s) { return s.which == 1 ? "<stderr>" : "<stdout>"; });
}

namespace salvus::compute {

std::expected<void, std::string> InitPython(const std::string& kernel) {
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.install_signal_handlers = 1;
  PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3");
  try {
    py::initialize_interpreter(&config, 0, nullptr, false);
  } catch (const std::exception& e) {
    return std::unexpected(std::string("cannot start Python: ") + e.what());
  }
  try {
    py::dict modules;
    for (const EmbeddedPyModule& m : kSalvusWorkerModules) {
      modules[py::str(m.name)] = py::make_tuple(py::str(m.file), py::str(m.source));
    }
    py::dict scope;  // embedded_import.py: installs a finder over `modules`
    scope["modules"] = modules;
    py::exec(kEmbeddedImportPy, scope);
    py::module_ mod = py::module_::import("salvus_worker");
    WorkerModule() = mod;
    mod.attr("init_zygote")(kernel);
  } catch (const py::error_already_set& e) {
    return std::unexpected(std::string("init_zygote failed: ") + e.what());
  }
  return {};
}

void PythonBeforeFork() { PyOS_BeforeFork(); }
void PythonAfterForkParent() { PyOS_AfterFork_Parent(); }
void PythonAfterForkChild() { PyOS_AfterFork_Child(); }

void InstallOutput(OutputChannel* channel) {
  g_channel = channel;
  py::module_ sys = py::module_::import("sys");
  py::module_ salvus = py::module_::import("_salvus");
  sys.attr("stdout") = salvus.attr("Stream")(0);
  sys.attr("stderr") = salvus.attr("Stream")(1);
}

std::expected<void, std::string> InitWorker(const std::string& home, uint64_t seed, bool warm) {
  try {
    // os.environ is a snapshot taken when the zygote started Python; the
    // worker's environment (set in C after fork) must reach it too.
    py::object environ = py::module_::import("os").attr("environ");
    for (const char* name : {"HOME", "DOT_SAGE", "MPLCONFIGDIR", "TMPDIR", "USER"}) {
      if (const char* v = getenv(name)) environ[py::str(name)] = py::str(v);
    }
    WorkerModule().attr("init_worker")(home, seed);
    if (warm) WorkerModule().attr("warm_worker")();
  } catch (const py::error_already_set& e) {
    return std::unexpected(std::string("init_worker failed: ") + e.what());
  }
  return {};
}

ExecStatus Execute(const std::string& code) {
  static py::object execute = WorkerModule().attr("execute");
  try {
    std::string status = py::str(execute(code));
    if (status == "ok") return ExecStatus::kOk;
    if (status == "interrupted") return ExecStatus::kInterrupted;
    return ExecStatus::kError;
  } catch (const py::error_already_set& e) {
    // execute() handles user exceptions itself; this is an interrupt that
    // landed in its own bookkeeping, or a bug there.
    if (e.matches(PyExc_KeyboardInterrupt)) return ExecStatus::kInterrupted;
    if (g_channel != nullptr) {
      std::string text = std::string("internal error: ") + e.what() + "\n";
      g_channel->Write(proto::Output::STDERR, text);
    }
    return ExecStatus::kError;
  }
}

namespace {
ExecStatus StatusOf(const py::object& result) {
  std::string status = py::str(result);
  if (status == "ok") return ExecStatus::kOk;
  if (status == "interrupted") return ExecStatus::kInterrupted;
  return ExecStatus::kError;
}
}  // namespace

ExecStatus InteractUpdate(const std::string& id, const std::string& values_json) {
  try {
    return StatusOf(WorkerModule().attr("interact_update")(id, values_json));
  } catch (const py::error_already_set& e) {
    if (e.matches(PyExc_KeyboardInterrupt)) return ExecStatus::kInterrupted;
    if (g_channel != nullptr) {
      g_channel->Write(proto::Output::STDERR, std::string("internal error: ") + e.what() + "\n");
    }
    return ExecStatus::kError;
  }
}

CompletionResult Complete(const std::string& code, uint32_t cursor) {
  CompletionResult r{{}, cursor, cursor};
  try {
    py::tuple t = WorkerModule().attr("complete")(code, cursor);
    for (auto m : py::list(t[0])) r.matches.push_back(py::str(m));
    r.start = t[1].cast<uint32_t>();
    r.end = t[2].cast<uint32_t>();
  } catch (const std::exception&) {
    if (PyErr_Occurred()) PyErr_Clear();
  }
  return r;
}

void ClearPendingInterrupt() {
  if (PyErr_CheckSignals() != 0) PyErr_Clear();
}

void CleanUpBeforeExit() {
  try {
    WorkerModule().attr("finish_worker")();
  } catch (const py::error_already_set&) {
    // Nothing to do: the worker exits next and its clean-up is best effort
    // (the session's home and processes go with its uid anyway).
  }
}

}  // namespace salvus::compute
