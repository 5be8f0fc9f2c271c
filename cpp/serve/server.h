// The daemon's network side: a TCP listener and worker threads speaking VW's line protocol
// (serve/session.h) to many clients at once. Each worker runs an epoll loop over its share of the
// connections, with non-blocking sockets and bounded buffers, so that a slow, silent or half-closed
// client holds up nobody but itself:
//   - a connection's partial line is bounded (max_line_bytes): a longer one gets an "error" reply,
//     and the connection is closed;
//   - replies wait in a per-connection buffer; past max_pending_output, that connection is not read
//     until its client reads its replies;
//   - replies come back in request order on each connection (one worker serves a connection).
// stop() closes the listener, answers the whole lines every connection has already sent, flushes
// the replies (for at most drain_seconds) and closes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "serve/engine.h"

namespace wabbit::serve {

struct ServerOptions {
  std::string listen = "127.0.0.1";  // an IPv4 address ("0.0.0.0": every interface, as VW binds)
  int port = 26542;                  // 0: the system picks a free port (see Server::port())
  unsigned threads = 1;              // worker threads (VW's --num_children, as threads)
  size_t max_line_bytes = size_t{1} << 20;
  size_t max_pending_output = size_t{4} << 20;
  int backlog = 4096;
};

class Server {
 public:
  Server(Engine& engine, ServerOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens, then starts the threads. Throws IoError (formats/model_io.h) on failure.
  void start();
  int port() const { return port_; }
  bool running() const { return running_.load(std::memory_order_acquire); }
  void stop(double drain_seconds = 5.);

 private:
  struct Worker;
  void accept_loop();
  void worker_loop(Worker& w);

  Engine& engine_;
  ServerOptions opt_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd that wakes the accept loop
  int port_ = 0;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  double drain_seconds_ = 5.;
  std::thread acceptor_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace wabbit::serve
