/*
 * Baseline for bench/index.ts: brute-force Hamming radius search over 256-bit hashes, one thread,
 * hardware popcount (the bench compiles this with gcc -O3 -march=native). A sequential scan like this
 * is memory-bandwidth bound, which is what a search index has to beat.
 *
 *   scan WORDS_FILE QUERIES_FILE RADIUS
 * Files hold 8 native-endian uint32 words per hash (the layout of PdqIndex.fromWords). Prints, per
 * query, one line: nanoseconds, match count, then the positions of the matches (ascending).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t *load(const char *path, size_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (bytes <= 0 || bytes % 32 != 0) { fprintf(stderr, "%s: size %ld is not a multiple of 32\n", path, bytes); exit(2); }
  uint64_t *p = aligned_alloc(64, (size_t)bytes);
  if (!p || fread(p, 1, (size_t)bytes, f) != (size_t)bytes) { fprintf(stderr, "%s: read failed\n", path); exit(2); }
  fclose(f);
  *count = (size_t)bytes / 32;
  return p;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s WORDS_FILE QUERIES_FILE RADIUS\n", argv[0]); return 2; }
  size_t n, nq;
  const uint64_t *h = load(argv[1], &n);
  const uint64_t *q = load(argv[2], &nq);
  int radius = atoi(argv[3]);
  uint32_t *hits = malloc(sizeof(uint32_t) * 1024);
  size_t cap = 1024;
  /* One untimed pass so the first query does not pay for page faults. */
  uint64_t warm = 0;
  for (size_t i = 0; i < 4 * n; i++) warm ^= h[i];
  if (warm == 42) fprintf(stderr, " ");
  for (size_t k = 0; k < nq; k++) {
    /* Hashes hold 8 uint32 words; XOR and popcount work on pairs of them as uint64. */
    const uint64_t q0 = q[4 * k], q1 = q[4 * k + 1], q2 = q[4 * k + 2], q3 = q[4 * k + 3];
    size_t found = 0;
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      const uint64_t *e = h + 4 * i;
      int d = __builtin_popcountll(e[0] ^ q0) + __builtin_popcountll(e[1] ^ q1) + __builtin_popcountll(e[2] ^ q2) + __builtin_popcountll(e[3] ^ q3);
      if (d <= radius) {
        if (found == cap) hits = realloc(hits, sizeof(uint32_t) * (cap *= 2));
        hits[found++] = (uint32_t)i;
      }
    }
    double t1 = now_ns();
    printf("%.0f %zu", t1 - t0, found);
    for (size_t j = 0; j < found; j++) printf(" %u", hits[j]);
    printf("\n");
  }
  return 0;
}
