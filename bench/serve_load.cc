// A load generator for wabbit's line-protocol server (issue 16): many clients on loopback, each
// sending VW text lines with a unique tag, and every reply checked.
//
// Standalone (no project headers): bench/bench_serve.py compiles it with
//   c++ -O2 -std=c++20 -pthread serve_load.cc -o serve_load
//
// Usage:
//   serve_load HOST PORT CLIENTS REQUESTS MODE [options]
//     MODE              pipelined | rr (request by request: one request in flight per client)
//     --learn R         share of labelled (learned) requests, default 0.1
//     --window W        requests in flight per client in pipelined mode, default 64
//     --echo            the server echoes: each reply must equal its request line
//     --threads T       load threads (each an epoll loop over its share of the clients), default 1
//     --duration S      stop sending after S seconds (REQUESTS is then an upper bound)
//     --timeout S       give up after S seconds; unanswered requests count as lost (default 300)
//     --values LIST     comma-separated predictions the server may give (hot swap): each reply must
//                       be one of them, and per connection their index never goes down
//     --seed N          varies the features (default 1)
//     --slow_ms X       also list the replies slower than X ms: [send time (CLOCK_MONOTONIC s), ms]
//
// Each client c sends lines tagged `'c<c>r<r>` (r = 0, 1, ... on that connection); an unlabelled
// line is a prediction, a labelled one ("0"/"1") is learned. A reply is checked in order per
// connection: its tag must be the next request's (a later one counts the skipped requests as lost,
// an earlier one is a duplicate, anything else is garbled), "error..." counts as an error, and the
// prediction must parse as a finite number. Latency is from the moment a request's line is written
// to the socket to the moment its reply is read (with a window of 1 this is request by request).
//
// Prints one JSON object on stdout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string host;
  int port = 0;
  int clients = 1;
  long long requests = 1;
  bool pipelined = true;
  double learn = 0.1;
  int window = 64;
  bool echo = false;
  int threads = 1;
  double duration = 0.;
  double timeout = 300.;
  std::vector<double> values;
  uint64_t seed = 1;
  double slow_ms = 0.;  // --slow_ms: list the replies slower than this (when sent, how slow)
};

struct Counts {
  long long sent = 0, replies = 0, ok = 0, errors = 0, lost = 0, duplicated = 0, garbled = 0;
  long long not_finite = 0, not_in_values = 0, non_monotone = 0, connect_failures = 0, closed_early = 0;
  std::vector<long long> per_value;
  void add(const Counts& o) {
    sent += o.sent;
    replies += o.replies;
    ok += o.ok;
    errors += o.errors;
    lost += o.lost;
    duplicated += o.duplicated;
    garbled += o.garbled;
    not_finite += o.not_finite;
    not_in_values += o.not_in_values;
    non_monotone += o.non_monotone;
    connect_failures += o.connect_failures;
    closed_early += o.closed_early;
    if (per_value.size() < o.per_value.size()) per_value.resize(o.per_value.size());
    for (size_t i = 0; i < o.per_value.size(); ++i) per_value[i] += o.per_value[i];
  }
};

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Client {
  int id = 0;
  int fd = -1;
  long long quota = 0;       // requests this client sends at most
  long long next_send = 0;   // index of the next request to generate
  long long next_reply = 0;  // index of the request whose reply comes next
  bool done_sending = false;
  bool closed = false;
  int value_index = -1;  // --values: the highest version index seen on this connection
  std::string out;       // bytes not yet written
  size_t out_off = 0;
  std::string in;                          // bytes of an incomplete reply line
  std::vector<Clock::time_point> sent_at;  // ring of window slots
  std::vector<std::string> echo_lines;     // --echo: the lines in flight (ring)
};

class Runner {
 public:
  Runner(const Config& cfg, std::vector<Client*> clients, Clock::time_point start)
      : cfg_(cfg), clients_(std::move(clients)), start_(start) {
    counts_.per_value.assign(cfg.values.size(), 0);
  }

  void run();
  Counts counts_;
  std::vector<float> lat_us_;
  std::vector<std::pair<double, float>> slow_;  // (send time, CLOCK_MONOTONIC seconds; latency ms)

 private:
  void make_line(Client& c, long long r, std::string& line);
  void fill(Client& c, Clock::time_point now);
  bool flush(Client& c);
  void on_reply(Client& c, std::string_view line, Clock::time_point now);
  void close_client(Client& c);
  bool sending_allowed(Clock::time_point now) const {
    if (cfg_.duration > 0 && std::chrono::duration<double>(now - start_).count() >= cfg_.duration) return false;
    return true;
  }

  const Config& cfg_;
  std::vector<Client*> clients_;
  Clock::time_point start_;
  int ep_ = -1;
  int open_ = 0;
};

void Runner::make_line(Client& c, long long r, std::string& line) {
  uint64_t h = mix(cfg_.seed * 0x100000001b3ULL ^ (uint64_t(c.id) << 32) ^ uint64_t(r));
  bool learn = double(h % 1000000) / 1e6 < cfg_.learn;
  uint64_t g = mix(h);
  char buf[256];
  int n;
  if (learn) {
    n = std::snprintf(buf, sizeof buf, "%d 'c%dr%lld |u u%llu |i i%llu x:%.3f |c h%llu\n", int(g & 1), c.id, r,
                      (unsigned long long)((g >> 1) % 1000), (unsigned long long)((g >> 11) % 500),
                      double((g >> 20) % 1000) / 1000., (unsigned long long)((g >> 30) % 24));
  } else {
    n = std::snprintf(buf, sizeof buf, "'c%dr%lld |u u%llu |i i%llu x:%.3f |c h%llu\n", c.id, r,
                      (unsigned long long)((g >> 1) % 1000), (unsigned long long)((g >> 11) % 500),
                      double((g >> 20) % 1000) / 1000., (unsigned long long)((g >> 30) % 24));
  }
  line.assign(buf, size_t(n));
}

void Runner::fill(Client& c, Clock::time_point now) {
  if (c.closed || c.done_sending) return;
  if (!sending_allowed(now)) {
    c.done_sending = true;
    return;
  }
  std::string line;
  while (c.next_send < c.quota && c.next_send - c.next_reply < cfg_.window) {
    long long r = c.next_send++;
    make_line(c, r, line);
    size_t slot = size_t(r % cfg_.window);
    c.sent_at[slot] = now;
    if (cfg_.echo) c.echo_lines[slot].assign(line.data(), line.size() - 1);
    c.out += line;
    ++counts_.sent;
  }
  if (c.next_send >= c.quota) c.done_sending = true;
}

// Writes what it can. False if the connection failed.
bool Runner::flush(Client& c) {
  while (c.out_off < c.out.size()) {
    ssize_t k = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (k > 0) {
      c.out_off += size_t(k);
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (1u << 16)) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  return true;
}

// The number r in "c<id>r<r>", or -1 if the tag is not this client's.
long long tag_index(std::string_view tag, int id) {
  if (tag.size() < 4 || tag[0] != 'c') return -1;
  size_t rpos = tag.find('r');
  if (rpos == std::string_view::npos) return -1;
  int cid = -1;
  auto a = std::from_chars(tag.data() + 1, tag.data() + rpos, cid);
  if (a.ec != std::errc() || a.ptr != tag.data() + rpos || cid != id) return -1;
  long long r = -1;
  auto b = std::from_chars(tag.data() + rpos + 1, tag.data() + tag.size(), r);
  if (b.ec != std::errc() || b.ptr != tag.data() + tag.size()) return -1;
  return r;
}

void Runner::on_reply(Client& c, std::string_view line, Clock::time_point now) {
  ++counts_.replies;
  long long want = c.next_reply;
  if (want >= c.next_send) {  // a reply to nothing we sent
    ++counts_.duplicated;
    return;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto record = [&](long long r) {
    float us = float(std::chrono::duration<double, std::micro>(now - c.sent_at[size_t(r % cfg_.window)]).count());
    lat_us_.push_back(us);
    if (cfg_.slow_ms > 0 && us >= cfg_.slow_ms * 1000. && slow_.size() < 100000) {
      const auto& t = c.sent_at[size_t(r % cfg_.window)];
      slow_.emplace_back(std::chrono::duration<double>(t.time_since_epoch()).count(), us / 1000.f);
    }
  };
  if (line.substr(0, 5) == "error") {
    ++counts_.errors;
    record(want);
    c.next_reply = want + 1;
    return;
  }
  if (cfg_.echo) {
    const std::string& expect = c.echo_lines[size_t(want % cfg_.window)];
    if (line == expect) {
      ++counts_.ok;
    } else {
      ++counts_.garbled;
    }
    record(want);
    c.next_reply = want + 1;
    return;
  }
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    ++counts_.garbled;
    record(want);
    c.next_reply = want + 1;
    return;
  }
  long long r = tag_index(line.substr(sp + 1), c.id);
  if (r < 0) {
    ++counts_.garbled;
    record(want);
    c.next_reply = want + 1;
    return;
  }
  if (r < want) {
    ++counts_.duplicated;
    return;
  }
  if (r >= c.next_send) {
    ++counts_.garbled;
    record(want);
    c.next_reply = want + 1;
    return;
  }
  if (r > want) counts_.lost += r - want;
  std::string num(line.substr(0, sp));
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  record(r);
  c.next_reply = r + 1;
  if (end == num.c_str() || *end != '\0' || !std::isfinite(v)) {
    ++counts_.not_finite;
    return;
  }
  if (!cfg_.values.empty()) {
    int best = -1;
    for (size_t i = 0; i < cfg_.values.size(); ++i) {
      double t = cfg_.values[i];
      if (std::fabs(v - t) <= 1e-3 * std::max(1.0, std::fabs(t))) {
        best = int(i);
        break;
      }
    }
    if (best < 0) {
      ++counts_.not_in_values;
      return;
    }
    ++counts_.per_value[size_t(best)];
    if (best < c.value_index) {
      ++counts_.non_monotone;
      return;
    }
    c.value_index = best;
  }
  ++counts_.ok;
}

void Runner::close_client(Client& c) {
  if (c.closed) return;
  c.closed = true;
  if (c.next_reply < c.next_send) {
    counts_.lost += c.next_send - c.next_reply;
    ++counts_.closed_early;
  }
  if (c.fd >= 0) {
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
  }
  --open_;
}

int connect_to(const Config& cfg, Clock::time_point deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(cfg.port));
  if (::inet_pton(AF_INET, cfg.host.c_str(), &a.sin_addr) != 1) {
    ::close(fd);
    return -1;
  }
  for (int attempt = 0; attempt < 50 && Clock::now() < deadline; ++attempt) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      return fd;
    }
    if (errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  return -1;
}

void Runner::run() {
  ep_ = ::epoll_create1(0);
  const auto deadline =
      start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg_.timeout));
  for (Client* c : clients_) {
    c->fd = connect_to(cfg_, deadline);
    if (c->fd < 0) {
      ++counts_.connect_failures;
      c->closed = true;
      continue;
    }
    c->sent_at.resize(size_t(cfg_.window));
    if (cfg_.echo) c->echo_lines.resize(size_t(cfg_.window));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = c;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
    ++open_;
  }
  auto now = Clock::now();
  for (Client* c : clients_) {
    if (c->closed) continue;
    fill(*c, now);
    if (!flush(*c)) close_client(*c);
  }
  std::vector<epoll_event> evs(256);
  std::vector<char> buf(1 << 16);
  bool duration_over = false;
  while (open_ > 0) {
    now = Clock::now();
    if (now >= deadline) break;
    if (!duration_over && !sending_allowed(now)) {
      duration_over = true;
      for (Client* c : clients_) c->done_sending = true;
    }
    // Everything sent and answered: done.
    bool all_done = true;
    for (Client* c : clients_) {
      if (c->closed) continue;
      if (!c->done_sending || c->next_reply < c->next_send) {
        all_done = false;
        break;
      }
    }
    if (all_done) break;
    int n = ::epoll_wait(ep_, evs.data(), int(evs.size()), 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      Client& c = *static_cast<Client*>(evs[size_t(i)].data.ptr);
      if (c.closed) continue;
      uint32_t e = evs[size_t(i)].events;
      bool dead = false;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t k = ::recv(c.fd, buf.data(), buf.size(), 0);
          if (k > 0) {
            size_t start = 0;
            for (size_t j = 0; j < size_t(k); ++j) {
              if (buf[j] != '\n') continue;
              if (c.in.empty()) {
                on_reply(c, std::string_view(buf.data() + start, j - start), now);
              } else {
                c.in.append(buf.data() + start, j - start);
                on_reply(c, c.in, now);
                c.in.clear();
              }
              start = j + 1;
            }
            c.in.append(buf.data() + start, size_t(k) - start);
            if (c.in.size() > (1u << 20)) {  // a reply line that never ends
              ++counts_.garbled;
              dead = true;
              break;
            }
            continue;
          }
          if (k < 0 && errno == EINTR) continue;
          if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          dead = true;  // closed by the server or failed
          break;
        }
      }
      if (!dead) {
        fill(c, now);
        if (!flush(c)) dead = true;
      }
      if (dead) close_client(c);
    }
  }
  for (Client* c : clients_) close_client(*c);
  ::close(ep_);
}

double percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0.;
  size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "serve_load: %s\nusage: serve_load HOST PORT CLIENTS REQUESTS pipelined|rr [--learn R] "
               "[--window W] [--echo] [--threads T] [--duration S] [--timeout S] [--values a,b,...] [--seed N] "
               "[--slow_ms X]\n",
               msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) usage("too few arguments");
  Config cfg;
  cfg.host = argv[1];
  cfg.port = std::atoi(argv[2]);
  cfg.clients = std::atoi(argv[3]);
  cfg.requests = std::atoll(argv[4]);
  std::string mode = argv[5];
  if (mode == "pipelined") {
    cfg.pipelined = true;
  } else if (mode == "rr") {
    cfg.pipelined = false;
  } else {
    usage("mode must be pipelined or rr");
  }
  for (int i = 6; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--learn") {
      cfg.learn = std::atof(next());
    } else if (a == "--window") {
      cfg.window = std::atoi(next());
    } else if (a == "--echo") {
      cfg.echo = true;
    } else if (a == "--threads") {
      cfg.threads = std::atoi(next());
    } else if (a == "--duration") {
      cfg.duration = std::atof(next());
    } else if (a == "--timeout") {
      cfg.timeout = std::atof(next());
    } else if (a == "--slow_ms") {
      cfg.slow_ms = std::atof(next());
    } else if (a == "--seed") {
      cfg.seed = std::strtoull(next(), nullptr, 10);
    } else if (a == "--values") {
      std::string s = next();
      size_t p = 0;
      while (p <= s.size()) {
        size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        if (q > p) cfg.values.push_back(std::strtod(s.substr(p, q - p).c_str(), nullptr));
        p = q + 1;
      }
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (!cfg.pipelined) cfg.window = 1;
  if (cfg.clients < 1 || cfg.requests < 1 || cfg.window < 1 || cfg.threads < 1 || cfg.port <= 0) usage("bad arguments");
  cfg.threads = std::min(cfg.threads, cfg.clients);

  std::vector<Client> clients(size_t(cfg.clients));
  for (int i = 0; i < cfg.clients; ++i) {
    clients[size_t(i)].id = i;
    clients[size_t(i)].quota = cfg.requests / cfg.clients + (i < cfg.requests % cfg.clients ? 1 : 0);
  }
  std::vector<std::vector<Client*>> parts(size_t(cfg.threads));
  for (int i = 0; i < cfg.clients; ++i) parts[size_t(i % cfg.threads)].push_back(&clients[size_t(i)]);

  auto start = Clock::now();
  std::vector<std::unique_ptr<Runner>> runners;
  for (auto& p : parts) runners.push_back(std::make_unique<Runner>(cfg, p, start));
  std::vector<std::thread> threads;
  for (auto& r : runners) threads.emplace_back([&r] { r->run(); });
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  Counts total;
  total.per_value.assign(cfg.values.size(), 0);
  std::vector<float> lat;
  std::vector<std::pair<double, float>> slow;
  for (auto& r : runners) {
    slow.insert(slow.end(), r->slow_.begin(), r->slow_.end());
    total.add(r->counts_);
    lat.insert(lat.end(), r->lat_us_.begin(), r->lat_us_.end());
  }
  double p50 = percentile(lat, 0.50) / 1000., p99 = percentile(lat, 0.99) / 1000.,
         p999 = percentile(lat, 0.999) / 1000.;
  double mx = lat.empty() ? 0. : *std::max_element(lat.begin(), lat.end()) / 1000.;
  double mean = 0.;
  for (float x : lat) mean += x;
  mean = lat.empty() ? 0. : mean / double(lat.size()) / 1000.;
  long long bad = total.errors + total.lost + total.duplicated + total.garbled + total.not_finite +
                  total.not_in_values + total.non_monotone + total.connect_failures;
  std::printf(
      "{\"mode\": \"%s\", \"echo\": %s, \"clients\": %d, \"window\": %d, \"threads\": %d, \"learn\": %g, "
      "\"requests\": %lld, \"replies\": %lld, \"ok\": %lld, \"errors\": %lld, \"lost\": %lld, "
      "\"duplicated\": %lld, \"garbled\": %lld, \"not_finite\": %lld, \"not_in_values\": %lld, "
      "\"non_monotone\": %lld, \"connect_failures\": %lld, \"closed_early\": %lld, \"bad\": %lld, "
      "\"seconds\": %.4f, \"requests_per_s\": %.1f, \"latency_ms\": {\"mean\": %.4f, \"p50\": %.4f, "
      "\"p99\": %.4f, \"p999\": %.4f, \"max\": %.4f}",
      cfg.pipelined ? "pipelined" : "rr", cfg.echo ? "true" : "false", cfg.clients, cfg.window, cfg.threads, cfg.learn,
      total.sent, total.replies, total.ok, total.errors, total.lost, total.duplicated, total.garbled, total.not_finite,
      total.not_in_values, total.non_monotone, total.connect_failures, total.closed_early, bad, seconds,
      seconds > 0 ? double(total.replies) / seconds : 0., mean, p50, p99, p999, mx);
  if (!cfg.values.empty()) {
    std::printf(", \"per_value\": [");
    for (size_t i = 0; i < total.per_value.size(); ++i) std::printf("%s%lld", i ? ", " : "", total.per_value[i]);
    std::printf("]");
  }
  if (cfg.slow_ms > 0) {
    std::sort(slow.begin(), slow.end());
    std::printf(", \"slow\": [");
    for (size_t i = 0; i < slow.size(); ++i)
      std::printf("%s[%.6f, %.3f]", i ? ", " : "", slow[i].first, slow[i].second);
    std::printf("]");
  }
  std::printf("}\n");
  return 0;
}
