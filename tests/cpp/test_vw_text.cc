// The VW text parser (cpp/formats/vw_text.h), without Python. Expected hashes are murmur3_x86_32
// values computed with the reference implementation (Python's mmh3), as VW hashes names: the
// namespace's hash is murmur3(name, 0) and a feature's is murmur3(name, namespace hash).
#define WABBIT_TEST_MAIN
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "core/example.h"
#include "formats/vw_text.h"
#include "run/lines.h"

using namespace wabbit;

TEST(label_weight_and_a_named_feature) {
  Example ex;
  const ParseResult r = parse_vw_line("1 2 |f a:0.5", ex);
  CHECK(r.status == ParseStatus::kExample);
  CHECK_EQ(ex.label, 1.f);
  CHECK_EQ(ex.weight, 2.f);
  const FeatureGroup& g = ex.groups['f'];
  CHECK_EQ(g.index.size(), size_t{1});
  CHECK_EQ(g.index[0], 282867731u);  // mmh3.hash(b"a", mmh3.hash(b"f", 0)), unsigned
  CHECK_EQ(g.value[0], 0.5f);
}

TEST(fast_and_general_readers_agree) {
  Example fast, general;
  CHECK(parse_vw_line_fast("-1 |u price:3 |f a", fast));
  CHECK(parse_vw_line_general("-1 |u price:3 |f a", general).status == ParseStatus::kExample);
  CHECK_EQ(fast.groups['u'].index[0], 729784744u);  // mmh3.hash(b"price", mmh3.hash(b"u", 0))
  CHECK_EQ(general.groups['u'].index[0], 729784744u);
  CHECK_EQ(fast.groups['u'].value[0], 3.f);
  CHECK_EQ(general.groups['f'].index[0], fast.groups['f'].index[0]);
}

// A value that starts as a number and goes on as something else is refused, the token named (VW
// would read "1q" as 1 and drop the rest silently). A value with no number at all ("a:zz") is
// read as VW reads it, without an error (tests/test_vw_parity.py pins what VW makes of it).
TEST(a_number_glued_to_text_is_an_error_naming_the_token) {
  Example ex;
  const ParseResult r = parse_vw_line("1 |f a:1q", ex);
  CHECK(r.status == ParseStatus::kError);
  CHECK(r.error.find("\"1q\"") != std::string::npos);
  CHECK(parse_vw_line("1 |f a:zz", ex).status == ParseStatus::kExample);
}

TEST(a_label_that_is_not_a_number_is_an_error) {
  Example ex;
  const ParseResult r = parse_vw_line("zz |f a", ex);
  CHECK(r.status == ParseStatus::kError);
  CHECK(r.error.find("zz") != std::string::npos);
}

// A line as VW reads it (run/lines.h): the UTF-8 byte-order mark is dropped from the input's first
// line only, and a Windows '\r' line end from every line.
TEST(a_bom_and_a_carriage_return_are_not_part_of_a_line) {
  std::vector<std::string> lines;
  bool first = true;
  for_each_line(
      "\xEF\xBB\xBF"
      "1 |f a\r\n\xEF\xBB\xBF-1 |f b\n0 |f c",
      [&](std::string_view l) { lines.emplace_back(clean_line(l, first)); });
  CHECK_EQ(lines.size(), size_t{3});
  CHECK(lines.at(0) == "1 |f a");
  CHECK(lines.at(1) == "\xEF\xBB\xBF-1 |f b");  // not the input's start: kept (the parser will refuse it)
  CHECK(lines.at(2) == "0 |f c");               // the last line may lack its newline
}
