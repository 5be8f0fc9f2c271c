// Ctrl-C and SIGTERM during a run that has released the GIL.
// Part of the bindings' one translation unit (included by cpp/python/module.cc only), so the
// helpers stay in an anonymous namespace.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pythread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "cb/cb.h"
#include "core/hash.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

// Signals during a run (Ctrl-C, SIGTERM). Python's C-level handler only notes a signal for the main
// thread's next bytecode, which a run without the GIL never reaches. While a run is on the main
// thread, a signal that Python handles goes first through on_signal, which also sets g_signal: the
// run stops at its next block boundary (or while it waits for input), then Python's handler runs
// (PyErr_CheckSignals) and raises KeyboardInterrupt, or what the handler raises.
std::atomic<int> g_signal{0};
constexpr int kWatched[2] = {SIGINT, SIGTERM};
struct sigaction g_previous[2];  // Python's handlers, called by on_signal
bool g_installed[2] = {false, false};
int g_watch_depth = 0;  // nested runs (a hook that learns); touched with the GIL held
unsigned long g_main_thread = 0;

extern "C" void on_signal(int sig, siginfo_t* info, void* context) {
  g_signal.store(sig, std::memory_order_relaxed);
  const struct sigaction& prev = g_previous[sig == SIGINT ? 0 : 1];
  if ((prev.sa_flags & SA_SIGINFO) != 0)
    prev.sa_sigaction(sig, info, context);
  else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN)
    prev.sa_handler(sig);
}

// Watches SIGINT/SIGTERM for one run (constructed and destroyed with the GIL held). Runs on other
// threads are not interrupted: Python delivers signals to the main thread only.
class SignalWatch {
 public:
  SignalWatch() {
    if (PyThread_get_thread_ident() != g_main_thread) return;
    active_ = true;
    if (g_watch_depth++ > 0) return;
    g_signal.store(0, std::memory_order_relaxed);
    for (int k = 0; k < 2; ++k) {
      struct sigaction cur{};
      if (sigaction(kWatched[k], nullptr, &cur) != 0) continue;
      const bool handled = (cur.sa_flags & SA_SIGINFO) != 0 || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
      if (!handled) continue;  // default (SIGTERM ends the process) or ignored: left as it is
      g_previous[k] = cur;
      struct sigaction mine = cur;
      mine.sa_flags |= SA_SIGINFO;
      mine.sa_sigaction = on_signal;
      g_installed[k] = sigaction(kWatched[k], &mine, nullptr) == 0;
    }
  }
  ~SignalWatch() {
    if (!active_ || --g_watch_depth > 0) return;
    for (int k = 0; k < 2; ++k) {
      if (g_installed[k]) sigaction(kWatched[k], &g_previous[k], nullptr);
      g_installed[k] = false;
    }
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  const std::atomic<int>* flag() const { return active_ ? &g_signal : nullptr; }
  // After the run, with the GIL: a run stopped by a signal lets Python's handler run now. Its
  // exception propagates; a handler that returns leaves the run stopped all the same (said so).
  static void after(const RunResult& r) {
    if (r.interrupted == 0) return;
    g_signal.store(0, std::memory_order_relaxed);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    PyErr_SetString(PyExc_InterruptedError, ("the run was stopped by signal " + std::to_string(r.interrupted) +
                                             " after " + std::to_string(r.examples) + " examples (learned and kept)")
                                                .c_str());
    throw py::error_already_set();
  }

 private:
  bool active_ = false;
};

}  // namespace
