#include "serve/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "formats/model_io.h"
#include "serve/session.h"

namespace wabbit::serve {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  const int e = errno;
  throw IoError(e, what + ": " + std::strerror(e), "");
}

void wake(int fd) {
  const uint64_t one = 1;
  ssize_t r;
  do {
    r = ::write(fd, &one, sizeof one);
  } while (r < 0 && errno == EINTR);
}

void drain_eventfd(int fd) {
  uint64_t v;
  while (::read(fd, &v, sizeof v) > 0) {
  }
}

constexpr size_t kReadChunk = size_t{64} << 10;

}  // namespace

struct Conn {
  Conn(int f, Engine& e, size_t max_line) : fd(f), session(e, max_line) {}
  int fd;
  Session session;
  std::string out;
  size_t out_pos = 0;
  bool read_closed = false;  // the peer sent EOF (or the session ended)
  bool reading = true;       // EPOLLIN is armed
  bool writing = false;      // EPOLLOUT is armed
  bool discarding = false;   // after a fatal error reply: reads are thrown away until the deadline
  Clock::time_point deadline{};
  size_t pending_out() const { return out.size() - out_pos; }
};

struct Server::Worker {
  int epfd = -1;
  int evfd = -1;
  std::mutex mu;
  std::vector<int> incoming;
  std::atomic<bool> stop{false};
  std::thread thread;
  std::unique_ptr<Engine::Context> ctx;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
};

Server::Server(Engine& engine, ServerOptions opt) : engine_(engine), opt_(std::move(opt)) {
  if (opt_.threads == 0) opt_.threads = 1;
}

Server::~Server() { stop(0.5); }

void Server::start() {
  if (running()) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opt_.port));
  if (::inet_pton(AF_INET, opt_.listen.c_str(), &addr.sin_addr) != 1) {
    errno = EINVAL;
    fail("--listen " + opt_.listen + ": not an IPv4 address (such as 127.0.0.1 or 0.0.0.0)");
  }
  if (opt_.port < 0 || opt_.port > 65535) {
    errno = EINVAL;
    fail("--port " + std::to_string(opt_.port) + ": a port is 0..65535 (0 picks a free one)");
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("cannot create a socket");
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(listen_fd_);
    listen_fd_ = -1;
    errno = e;
    fail("cannot listen on " + opt_.listen + ":" + std::to_string(opt_.port));
  }
  if (::listen(listen_fd_, opt_.backlog) != 0) fail("listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) fail("eventfd");
  stopping_.store(false);
  for (unsigned i = 0; i < opt_.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->epfd = ::epoll_create1(EPOLL_CLOEXEC);
    w->evfd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->epfd < 0 || w->evfd < 0) fail("epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = w->evfd;
    ::epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
    w->ctx = engine_.make_context();
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { worker_loop(*wp); });
  }
  acceptor_ = std::thread([this] { accept_loop(); });
  running_.store(true, std::memory_order_release);
}

void Server::accept_loop() {
  size_t next = 0;
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (!stopping_.load(std::memory_order_acquire)) {
    if (::poll(fds, 2, 1000) <= 0) continue;
    if (fds[1].revents != 0) break;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // out of descriptors: let some close
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Worker& w = *workers_[next++ % workers_.size()];
    {
      std::lock_guard<std::mutex> lock(w.mu);
      w.incoming.push_back(fd);
    }
    wake(w.evfd);
  }
}

namespace {

void arm(int epfd, Conn& c, bool reading, bool writing) {
  if (c.reading == reading && c.writing == writing) return;
  epoll_event ev{};
  ev.events = (reading ? EPOLLIN | EPOLLRDHUP : 0u) | (writing ? EPOLLOUT : 0u);
  ev.data.fd = c.fd;
  ::epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
  c.reading = reading;
  c.writing = writing;
}

// Writes what it can; false if the connection failed.
bool flush(Conn& c, Metrics& m) {
  while (c.pending_out() > 0) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.pending_out(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out_pos += static_cast<size_t>(n);
      m.bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  c.out.clear();
  c.out_pos = 0;
  return true;
}

}  // namespace

void Server::worker_loop(Worker& w) {
  Metrics& m = engine_.metrics();
  size_t discarding = 0;  // connections discarding input before their close (at least)
  auto close_conn = [&](int fd) {
    auto it = w.conns.find(fd);
    if (it == w.conns.end()) return;
    ::epoll_ctl(w.epfd, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    w.conns.erase(it);
    m.connections_open.fetch_sub(1, std::memory_order_relaxed);
  };
  // After its replies went out: a finished connection is closed (an ended session first sends its
  // FIN, then discards what the peer still sends for a moment, so its error reply is not lost to a
  // reset).
  auto settle = [&](Conn& c) -> bool {
    if (!flush(c, m)) {
      close_conn(c.fd);
      return false;
    }
    const bool pending = c.pending_out() > 0;
    if (c.session.closed() && !pending && !c.discarding) {
      if (c.read_closed) {
        close_conn(c.fd);
        return false;
      }
      ::shutdown(c.fd, SHUT_WR);
      c.discarding = true;
      ++discarding;
      c.deadline = Clock::now() + std::chrono::seconds(1);
    }
    if (c.read_closed && !pending) {
      close_conn(c.fd);
      return false;
    }
    const bool want_read = !c.read_closed && (c.discarding || pending <= opt_.max_pending_output);
    arm(w.epfd, c, want_read, pending);
    return true;
  };
  std::vector<char> buf(kReadChunk);
  auto read_some = [&](Conn& c) -> bool {  // false: the connection is gone
    const ssize_t n = ::read(c.fd, buf.data(), buf.size());
    if (n > 0) {
      m.bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      if (!c.discarding) c.session.feed(*w.ctx, std::string_view(buf.data(), static_cast<size_t>(n)), c.out);
      return true;
    }
    if (n == 0) {
      c.read_closed = true;
      if (!c.discarding) c.session.finish(*w.ctx, c.out);
      return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    close_conn(c.fd);
    return false;
  };

  std::vector<epoll_event> events(256);
  while (!w.stop.load(std::memory_order_acquire)) {
    const int n = ::epoll_wait(w.epfd, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == w.evfd) {
        drain_eventfd(w.evfd);
        std::vector<int> fresh;
        {
          std::lock_guard<std::mutex> lock(w.mu);
          fresh.swap(w.incoming);
        }
        for (int cfd : fresh) {
          auto c = std::make_unique<Conn>(cfd, engine_, opt_.max_line_bytes);
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data.fd = cfd;
          if (::epoll_ctl(w.epfd, EPOLL_CTL_ADD, cfd, &ev) != 0) {
            ::close(cfd);
            continue;
          }
          w.conns.emplace(cfd, std::move(c));
          m.connections_open.fetch_add(1, std::memory_order_relaxed);
          m.connections_total.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      auto it = w.conns.find(fd);
      if (it == w.conns.end()) continue;
      Conn& c = *it->second;
      const uint32_t e = events[i].events;
      if ((e & EPOLLERR) != 0) {
        close_conn(fd);
        continue;
      }
      if ((e & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) != 0 && c.reading) {
        if (!read_some(c)) continue;
      }
      settle(c);
    }
    // connections that finished discarding (a walk only while some connection discards)
    if (discarding > 0) {
      const auto now = Clock::now();
      std::vector<int> expired;
      size_t still = 0;
      for (auto& [fd, c] : w.conns) {
        if (!c->discarding) continue;
        if (now >= c->deadline)
          expired.push_back(fd);
        else
          ++still;
      }
      for (int fd : expired) close_conn(fd);
      discarding = still;
    }
  }

  // Stopping: answer the whole lines each connection has sent, flush for a while, close.
  for (auto& [fd, c] : w.conns) {
    if (c->discarding || c->read_closed) continue;
    for (int reads = 0; reads < 64; ++reads) {
      const ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) break;
      m.bytes_in.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      c->session.feed(*w.ctx, std::string_view(buf.data(), static_cast<size_t>(r)), c->out);
    }
  }
  const auto deadline = Clock::now() + std::chrono::duration<double>(drain_seconds_);
  for (;;) {
    std::vector<pollfd> waiting;
    for (auto& [fd, c] : w.conns) {
      if (c->pending_out() > 0 && flush(*c, m) && c->pending_out() > 0) waiting.push_back({fd, POLLOUT, 0});
    }
    if (waiting.empty() || Clock::now() >= deadline) break;
    ::poll(waiting.data(), waiting.size(), 50);
  }
  // Then the FIN after the replies, and what the peers still send is read and thrown away until
  // they close (or the deadline): closing with unread input would reset the connection, and a
  // reset can destroy replies the client has not read yet.
  std::vector<pollfd> open;
  for (auto& [fd, c] : w.conns) {
    ::shutdown(fd, SHUT_WR);
    if (!c->read_closed) open.push_back({fd, POLLIN, 0});
  }
  // (at most a second of it: a peer that keeps its side open does not hold the stop longer)
  const Clock::time_point one_second = Clock::now() + std::chrono::seconds(1);
  const Clock::time_point fin_deadline = std::min(std::chrono::time_point_cast<Clock::duration>(deadline), one_second);
  while (!open.empty() && Clock::now() < fin_deadline) {
    if (::poll(open.data(), open.size(), 50) <= 0) continue;
    for (pollfd& p : open) {
      if (p.revents == 0) continue;
      ssize_t r;
      while ((r = ::read(p.fd, buf.data(), buf.size())) > 0) {
      }
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) p.fd = -1;
    }
    std::erase_if(open, [](const pollfd& p) { return p.fd < 0; });
  }
  std::vector<int> all;
  for (auto& [fd, c] : w.conns) all.push_back(fd);
  for (int fd : all) close_conn(fd);
  std::lock_guard<std::mutex> lock(w.mu);
  for (int fd : w.incoming) ::close(fd);
  w.incoming.clear();
}

void Server::stop(double drain_seconds) {
  if (!running_.exchange(false)) return;
  drain_seconds_ = drain_seconds;
  stopping_.store(true, std::memory_order_release);
  wake(stop_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  for (auto& w : workers_) {
    w->stop.store(true, std::memory_order_release);
    wake(w->evfd);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    ::close(w->epfd);
    ::close(w->evfd);
  }
  workers_.clear();  // (the contexts fold their learning into the served model)
  ::close(stop_fd_);
  stop_fd_ = -1;
}

}  // namespace wabbit::serve
