/* The machine's thread ceiling probe for bench_suite.py (built there with the system C compiler).

   usage: spin alu|latency N -- runs the loop N times and prints its checksum (mod 2^64).
   "alu": eight independent chains of additions (throughput-bound, as parsing is); "latency": one
   chain of dependent multiplications (as a pointer chase). bench_suite.py starts k copies at once
   and compares their wall time with one copy's: the speed-up a k-thread program can get out of
   this machine on such code. The empty asm keeps the compiler from folding the loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "alu") != 0 && strcmp(argv[1], "latency") != 0)) {
    fprintf(stderr, "usage: spin alu|latency N\n");
    return 2;
  }
  uint64_t n = strtoull(argv[2], NULL, 10);
  if (strcmp(argv[1], "latency") == 0) {
    uint64_t h = 1;
    for (uint64_t i = 0; i < n; ++i) {
      h = h * 0x9E3779B97F4A7C15ull + i;
      __asm__ volatile("" : "+r"(h));
    }
    printf("%llu\n", (unsigned long long)h);
    return 0;
  }
  uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
  for (uint64_t i = 0; i < n; ++i) {
    a += i;
    b ^= i;
    c += a;
    d ^= b;
    e += c;
    f ^= d;
    g += e;
    h ^= f;
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h));
  }
  printf("%llu\n", (unsigned long long)(a + b + c + d + e + f + g + h));
  return 0;
}
