// The serving engine (cpp/serve/) without Python: VW's line protocol over a session (the replies a
// sequential run writes with -p, in order, however the bytes are cut), its limits, saves, publish
// mode and hot swaps, and the network server over a loopback socket.
#define WABBIT_TEST_MAIN
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "run/driver.h"
#include "serve/engine.h"
#include "serve/server.h"
#include "serve/session.h"

using namespace wabbit;
using namespace wabbit::serve;

namespace {

Config small() {
  Config c;
  c.bits = 12;
  return c;
}

std::shared_ptr<Version> fresh(const Config& c) {
  Learner l(c);
  return Version::copy_of(l, nullptr, "", "-b 12", "{}");
}

const char* kLines =
    "1 |a x:1 y:2\n"
    "0 'tagged|a y z\n"
    "|a x\n"
    "1 2 |b q:0.5\n"
    "-1 |a z\n";

// What a sequential run writes with -p: each line learned in order (process_example), VW's format.
std::string sequential(const Config& c, const std::string& text, bool learn) {
  Learner l(c);
  Stats stats;
  std::string out;
  for_each_line(text, [&](std::string_view line) {
    Example ex;
    if (parse_vw_line(line, ex).status != ParseStatus::kExample) return;
    l.prepare(ex);
    const Outcome o = process_example(l, stats, ex, learn);
    format_prediction(out, o.output, ex.tag);
  });
  return out;
}

std::string through_session(Engine& e, const std::string& text, size_t chunk) {
  auto ctx = e.make_context();
  Session s(e, 1 << 20);
  std::string out;
  for (size_t i = 0; i < text.size(); i += chunk) s.feed(*ctx, std::string_view(text).substr(i, chunk), out);
  s.finish(*ctx, out);
  return out;
}

}  // namespace

TEST(replies_are_a_sequential_runs_predictions_however_the_bytes_are_cut) {
  const std::string want = sequential(small(), kLines, true);
  CHECK(want.find("tagged") != std::string::npos);
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{1000}}) {
    Engine e(fresh(small()), EngineOptions{});
    CHECK(through_session(e, kLines, chunk) == want);
  }
}

TEST(test_only_learns_nothing) {
  EngineOptions o;
  o.learn = false;
  Engine e(fresh(small()), o);
  const std::string first = through_session(e, kLines, 5);
  CHECK(first == through_session(e, kLines, 5));  // nothing changed in between
  CHECK_EQ(e.metrics().examples_learned.load(), uint64_t{0});
}

TEST(a_malformed_line_gets_one_error_line_and_keeps_the_others_aligned) {
  Engine e(fresh(small()), EngineOptions{});
  const std::string out = through_session(e, "1 |a x\nnot_a_label |a x\n0 'k|a y\n", 4);
  std::vector<std::string> lines;
  for_each_line(out, [&](std::string_view l) { lines.emplace_back(l); });
  CHECK_EQ(lines.size(), size_t{3});
  CHECK(lines[1].rfind("error: line 2: ", 0) == 0);
  CHECK(lines[2].size() > 2 && lines[2].substr(lines[2].size() - 2) == " k");
  CHECK_EQ(e.metrics().examples_learned.load(), uint64_t{2});
}

TEST(a_partial_line_at_close_is_dropped_unlearned) {
  Engine e(fresh(small()), EngineOptions{});
  const std::string out = through_session(e, "1 |a x\n1 |a y z w", 100);
  CHECK_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  CHECK_EQ(e.metrics().examples_learned.load(), uint64_t{1});
}

TEST(a_line_over_the_limit_ends_the_session_with_an_error) {
  Engine e(fresh(small()), EngineOptions{});
  auto ctx = e.make_context();
  Session s(e, 64);
  std::string out;
  CHECK(s.feed(*ctx, "1 |a x\n", out));
  CHECK(!s.feed(*ctx, std::string(100, 'x'), out));
  CHECK(s.closed());
  CHECK(out.find("error: line 2 is longer than 64 bytes") != std::string::npos);
  CHECK(!s.feed(*ctx, "1 |a x\n", out));  // nothing more is read
  CHECK_EQ(e.metrics().lines_too_long.load(), uint64_t{1});
}

TEST(save_requests_write_a_loadable_file_atomically) {
  char dir[] = "/tmp/wabbit_serve_XXXXXX";
  CHECK(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/m.bin";
  EngineOptions o;
  o.save_path = path;
  Engine e(fresh(small()), o);
  std::string out = through_session(e, "1 |a x\n'save|\n", 100);
  CHECK(out.find("\n0 save\n") != std::string::npos);
  const LoadedModel m = parse_model(read_file(path));
  CHECK(m.header.args == "-b 12");
  out = through_session(e, "'save_" + std::string(dir) + "/other.bin|\n", 100);
  CHECK(out == "0 save_" + std::string(dir) + "/other.bin\n");
  parse_model(read_file(std::string(dir) + "/other.bin"));
  out = through_session(e, "'save_/nonexistent/dir/x.bin|\n", 100);
  CHECK(out.rfind("error: cannot save", 0) == 0);
  CHECK_EQ(e.metrics().errors(Kind::kSave), uint64_t{1});
}

TEST(publish_mode_serves_only_published_versions) {
  EngineOptions o;
  o.publish_every = 3;
  Engine e(fresh(small()), o);
  auto ctx = e.make_context();
  Tally tally;
  std::string out;
  // before anything is published, every reply is the starting model's (0 for a fresh model)
  for (int i = 0; i < 2; ++i) e.line(*ctx, "1 |a x", 1, out, tally);
  CHECK(out == "0\n0\n");
  e.line(*ctx, "1 |a x", 3, out, tally);
  for (int i = 0; i < 200 && e.current()->id.empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(e.current()->id == "p1");
  // p1 learned exactly three examples: its prediction is a sequential run's after three
  const std::string seq = sequential(small(), "1 |a x\n1 |a x\n1 |a x\n|a x\n", true);
  std::string reply;
  e.line(*ctx, "|a x", 4, reply, tally);
  CHECK(reply == seq.substr(seq.rfind('\n', seq.size() - 2) + 1));
  e.shutdown();
}

TEST(a_swap_serves_the_new_version) {
  EngineOptions o;
  o.learn = false;
  Engine e(fresh(small()), o);
  Learner other(small());
  Stats st;
  Example ex;
  parse_vw_line("5 |a x", ex);
  other.prepare(ex);
  for (int i = 0; i < 20; ++i) {
    Example copy = ex;
    process_example(other, st, copy, true);
  }
  auto ctx = e.make_context();
  Tally tally;
  std::string before, after;
  e.line(*ctx, "|a x", 1, before, tally);
  e.swap(Version::copy_of(other, nullptr, "v7", "-b 12", "{}"));
  e.line(*ctx, "|a x", 2, after, tally);
  CHECK(before == "0\n");
  CHECK(after != before);
  CHECK(e.current()->id == "v7");
  CHECK_EQ(e.metrics().swaps.load(), uint64_t{1});
}

TEST(the_server_answers_over_loopback_and_a_half_closed_client_gets_every_reply) {
  Engine e(fresh(small()), EngineOptions{});
  ServerOptions so;
  so.port = 0;
  so.threads = 2;
  Server srv(e, so);
  srv.start();
  CHECK(srv.port() > 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(srv.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const std::string text = kLines;
  CHECK(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  CHECK(got == sequential(small(), kLines, true));
  srv.stop();
  CHECK(!srv.running());
}
