#include "run/hogwild.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "formats/vw_text.h"
#include "run/lines.h"

namespace wabbit::hogwild {

void check_thread_count(unsigned n) {
  if (n > kMaxThreads) {
    throw std::invalid_argument("threads: at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
}

std::vector<uint32_t> find_hot_rows_text(const Learner& learner, std::string_view sample) {
  std::vector<std::string_view> lines;
  for_each_line(sample, [&](std::string_view l) {
    if (lines.size() < kHotSampleLines) lines.push_back(l);
  });
  return find_hot_rows(learner, lines.size(), [&](size_t e, Example& ex) {
    return parse_vw_line(lines[e], ex, false).status == ParseStatus::kExample;
  });
}

// The number of '\n' in text, 16 bytes a step: BlockSource counts every block's lines under its
// lock, where std::count's byte loop (~3 instructions a byte) kept the other threads waiting.
size_t count_newlines(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  size_t n = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    // up to 255 steps into byte counters (each step adds 0 or 1, as 0 - (-1)), then summed
    __m128i acc = _mm_setzero_si128();
    const size_t steps = std::min<size_t>(static_cast<size_t>(end - p) / 16, 255);
    for (size_t k = 0; k < steps; ++k, p += 16) {
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), nl));
    }
    const __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());
    n += static_cast<size_t>(_mm_cvtsi128_si32(sums)) + static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; p < end; ++p) n += *p == '\n';
  return n;
}

// The start of the input that find_hot_rows_text samples: kHotSampleLines lines if they fit in
// kMaxHotSampleBytes. A shorter sample of wide lines (200 features) made rows that 2.5% of lines
// touch look hot by chance; learning those through private copies cost a quarter of the run.
std::string_view hot_sample(BlockSource& source) {
  size_t bytes = kFirstBlock * 16;
  std::string_view s = source.peek(bytes);
  while (count_newlines(s) < kHotSampleLines && s.size() == bytes && bytes < kMaxHotSampleBytes) {
    bytes *= 2;
    s = source.peek(bytes);
  }
  return s;
}

std::unique_ptr<Workers> make_workers(Learner& learner, unsigned n, const RunOptions& opt,
                                      const std::vector<uint32_t>& hot) {
  try {
    return std::make_unique<Workers>(learner, n, opt, hot);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("not enough memory for " + std::to_string(n) +
                             " threads' learners; nothing was learned; "
                             "use fewer threads");
  }
}

std::string_view BlockSource::peek(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return buf_.substr(0, std::min(bytes, buf_.size()));
  while (!eof_ && carry_.size() < bytes) {
    const size_t have = carry_.size();
    carry_.resize(bytes);
    const ssize_t n = read_input(fd_, carry_.data() + have, bytes - have, interrupt_);
    carry_.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0) stopped_ = true;  // interrupted: the whole lines read so far are still learned
    if (n < 0) break;
    if (n == 0) eof_ = true;
  }
  return carry_;
}

bool BlockSource::next(std::string& storage, Block& b) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0 && interrupted(interrupt_)) return false;  // (an fd: fill() stops reading)
  const size_t want = size_;
  size_ = std::min(size_ * 2, kMaxBlock);
  if (fd_ < 0) {
    if (pos_ >= buf_.size()) return false;
    size_t end = std::min(pos_ + want, buf_.size());
    if (end < buf_.size()) {
      const void* nl = std::memchr(buf_.data() + end, '\n', buf_.size() - end);
      end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) + 1 : buf_.size();
    }
    b.text = buf_.substr(pos_, end - pos_);
    pos_ = end;
  } else {
    if (!fill(storage, want)) return false;
    b.text = storage;
  }
  b.seq = seq_++;
  b.first_line = line_;
  line_ += count_newlines(b.text);
  return true;
}

bool BlockSource::fill(std::string& storage, size_t want) {
  if ((eof_ || stopped_) && carry_.empty()) return false;
  storage.swap(carry_);
  carry_.clear();
  size_t have = storage.size();
  while (!eof_) {
    if (have >= want || stopped_) {
      const void* nl = have > 0 ? ::memrchr(storage.data(), '\n', have) : nullptr;
      if (nl != nullptr) {
        const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - storage.data()) + 1;
        carry_.assign(storage, end, have - end);
        storage.resize(end);
        return true;
      }
      if (stopped_) {
        storage.clear();
        carry_.clear();
        return false;
      }
      want = have * 2;  // one line longer than the block: keep reading
    }
    storage.resize(std::max(want, have + 4096));
    const ssize_t n = read_input(fd_, storage.data() + have, storage.size() - have, interrupt_);
    if (n < 0) {
      stopped_ = true;
      storage.resize(have);
      continue;
    }
    if (n == 0) eof_ = true;
    have += static_cast<size_t>(n);
  }
  storage.resize(have);
  return have > 0;
}

}  // namespace wabbit::hogwild
