/*
 * PDQ (Meta, 2017) for WebAssembly: the same float32 arithmetic in the same order as
 * src/core/pdq/pdq.ts (which is bit-exact with Meta's C++ reference), so the two give identical
 * hashes. Compiled by native/build-wasm.js with clang --target=wasm32 -msimd128, no libc.
 *
 * Why it is faster than the TypeScript: float32 operations are native here (JS rounds every double
 * result with Math.fround), and independent lanes run four at a time in SIMD registers — four image
 * rows at once for the box filter along rows (each row's running sum is a dependent chain, so one row
 * alone runs at the latency of that chain), four columns at once along columns. SIMD float32 lanes
 * round exactly like scalar float32, and no lane ever mixes with another, so results do not change.
 * Must be built without -ffast-math and with -ffp-contract=off (no fused multiply-add).
 *
 * Memory: the caller asks pdq_prepare() for an input buffer, writes the pixels there and calls
 * pdq_run(); scratch space follows the input (O(filter window × width) floats, as in pdq.ts).
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef float f4 __attribute__((vector_size(16)));

extern unsigned char __heap_base;

static float LUMA_R[256], LUMA_G[256], LUMA_B[256];
/* DCT rows 1..16 (16×64), written by the caller once (computed in double in JS, rounded to float). */
static float DCT[16 * 64];
/* The same matrix transposed (64×16), for the second product. */
static float DCT_T[64 * 16];
static float BLOCK[64 * 64];
static float TMP[16 * 64];
static float COEF[8][256];
static uint16_t WORDS[8 * 16];
static int QUALITY;

static uint8_t *input;
static float *scratch;
static uint32_t scratch_floats;

float *pdq_dct_matrix(void) { return DCT; }
uint16_t *pdq_words(void) { return WORDS; }
int pdq_quality(void) { return QUALITY; }

void pdq_init(void) {
  for (int v = 0; v < 256; v++) {
    LUMA_R[v] = 0.299f * (float)v;
    LUMA_G[v] = 0.587f * (float)v;
    LUMA_B[v] = 0.114f * (float)v;
  }
  for (int i = 0; i < 16; i++)
    for (int k = 0; k < 64; k++) DCT_T[k * 16 + i] = DCT[i * 64 + k];
}

static int window_size(int old_dim, int new_dim) { return (old_dim + 2 * new_dim - 1) / (2 * new_dim); }

/* Makes room for w×h×c input bytes plus scratch; returns the input pointer, or 0 if memory cannot grow. */
uint8_t *pdq_prepare(int w, int h, int c) {
  uint32_t in_bytes = ((uint32_t)w * (uint32_t)h * (uint32_t)c + 15u) & ~15u;
  uint32_t win = (uint32_t)window_size(h, 64);
  /* 2 interleaved 4-row buffers, ring of win+4 rows, sums, column output: all w wide; small 64-wide rings. */
  uint32_t floats = 4u * (uint32_t)w * 2u + (win + 4u) * (uint32_t)w + 2u * (uint32_t)w + (win + 4u) * 64u + 2u * 64u + 64u;
  uint32_t base = ((uint32_t)&__heap_base + 15u) & ~15u;
  uint64_t need = (uint64_t)base + in_bytes + (uint64_t)floats * 4u + 64u;
  if (need > 0xffff0000ull) return 0;
  uint32_t have = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
  if (need > have) {
    uint32_t pages = (uint32_t)((need - have + 65535u) / 65536u);
    if (__builtin_wasm_memory_grow(0, pages) == (uint32_t)-1) return 0;
  }
  input = (uint8_t *)base;
  scratch = (float *)(base + in_bytes);
  scratch_floats = floats;
  return input;
}

/* ---- box filter along rows, four rows at once (lane k = row k) ---- */

/*
 * The reference's box1DFloat on 4 interleaved rows in[x*4+k]. Outputs go to rows out[k] (full width)
 * when keep is 0, else only columns keep[0..63] (ascending, possibly repeated) into out[k][j].
 */
static void box_rows4(const float *in, float *const out[4], int length, int window, const int *keep) {
  int half = (window + 2) / 2;
  int p1 = half - 1, p2 = window - half + 1, p3 = length - window, p4 = half - 1;
  const f4 *v = (const f4 *)in;
  f4 sum = {0, 0, 0, 0};
  int ri = 0, li = 0, oi = 0, count = 0, next = 0;
#define EMIT(value)                                                             \
  do {                                                                          \
    if (!keep) {                                                                \
      f4 o_ = (value);                                                          \
      out[0][oi] = o_[0]; out[1][oi] = o_[1]; out[2][oi] = o_[2]; out[3][oi] = o_[3]; \
    } else if (next < 64 && keep[next] == oi) {                                 \
      f4 o_ = (value);                                                          \
      while (next < 64 && keep[next] == oi) {                                   \
        out[0][next] = o_[0]; out[1][next] = o_[1]; out[2][next] = o_[2]; out[3][next] = o_[3]; \
        next++;                                                                 \
      }                                                                         \
    }                                                                           \
    oi++;                                                                       \
  } while (0)
  for (int i = 0; i < p1; i++) { sum = sum + v[ri++]; count++; }
  for (int i = 0; i < p2; i++) {
    sum = sum + v[ri++];
    count++;
    f4 c = {(float)count, (float)count, (float)count, (float)count};
    EMIT(sum / c);
  }
  {
    f4 c = {(float)count, (float)count, (float)count, (float)count};
    for (int i = 0; i < p3; i++) {
      sum = sum + v[ri++];
      sum = sum - v[li++];
      EMIT(sum / c);
    }
  }
  for (int i = 0; i < p4; i++) {
    sum = sum - v[li++];
    count--;
    f4 c = {(float)count, (float)count, (float)count, (float)count};
    EMIT(sum / c);
  }
#undef EMIT
}

/* ---- box filter down columns, fed one row at a time ---- */

typedef struct {
  int width, length, window, half;
  float *ring; /* (window + 4) rows */
  int ring_rows;
  float *sums, *out;
  int pushed, li, oi, count;
} column_box;

static void cb_init(column_box *b, int width, int length, int window, float **mem) {
  b->width = width;
  b->length = length;
  b->window = window;
  b->half = (window + 2) / 2;
  b->ring_rows = window + 4;
  b->ring = *mem;
  *mem += (uint32_t)b->ring_rows * (uint32_t)width;
  b->sums = *mem;
  *mem += width;
  b->out = *mem;
  *mem += width;
  for (int j = 0; j < width; j++) b->sums[j] = 0;
  b->pushed = b->li = b->oi = b->count = 0;
}

static float *cb_slot(column_box *b, int ahead) { return b->ring + (uint32_t)((b->pushed + ahead) % b->ring_rows) * (uint32_t)b->width; }

/* Returns 1 when the push produced output row b->oi - 1 in b->out. */
static int cb_push(column_box *b) {
  int r = b->pushed++;
  const float *row = b->ring + (uint32_t)(r % b->ring_rows) * (uint32_t)b->width;
  float *sums = b->sums, *out = b->out;
  int w = b->width;
  if (r < b->half - 1) {
    for (int j = 0; j < w; j++) sums[j] = sums[j] + row[j];
    b->count++;
    return 0;
  }
  if (r < b->window) {
    float c = (float)(++b->count);
    for (int j = 0; j < w; j++) {
      float s = sums[j] + row[j];
      sums[j] = s;
      out[j] = s / c;
    }
  } else {
    const float *old = b->ring + (uint32_t)(b->li++ % b->ring_rows) * (uint32_t)w;
    float c = (float)b->count;
    for (int j = 0; j < w; j++) {
      float s = (sums[j] + row[j]) - old[j];
      sums[j] = s;
      out[j] = s / c;
    }
  }
  b->oi++;
  return 1;
}

/* One step of the final shrinking phase; the caller loops half - 1 times. */
static void cb_finish_step(column_box *b) {
  const float *old = b->ring + (uint32_t)(b->li++ % b->ring_rows) * (uint32_t)b->width;
  float c = (float)(--b->count);
  float *sums = b->sums, *out = b->out;
  for (int j = 0; j < b->width; j++) {
    float s = sums[j] - old[j];
    sums[j] = s;
    out[j] = s / c;
  }
  b->oi++;
}

/* ---- the downsample to 64×64 (two Jarosz passes, decimation at pixel centres) ---- */

static int keep_cols[64];
static int row_of[64];
static float *staged;   /* 4 interleaved rows from the first column pass */
static int n_staged;
static column_box first_cols, last_cols;
static int width_g;
static int win_rows_g;

static void emit_last(void) {
  int o = last_cols.oi - 1;
  for (int i = 0; i < 64; i++)
    if (row_of[i] == o)
      for (int j = 0; j < 64; j++) BLOCK[i * 64 + j] = last_cols.out[j];
}

static void flush_staged(void) {
  if (n_staged == 0) return;
  /* Lanes past n_staged hold stale rows; their outputs go to a scratch row, never into the filter. */
  static float unused[64];
  float *outs[4];
  for (int k = 0; k < 4; k++) outs[k] = k < n_staged ? cb_slot(&last_cols, k) : unused;
  box_rows4(staged, outs, width_g, win_rows_g, keep_cols);
  for (int k = 0; k < n_staged; k++)
    if (cb_push(&last_cols)) emit_last();
  n_staged = 0;
}

static void on_first_cols_output(void) {
  const float *row = first_cols.out;
  int w = width_g;
  for (int x = 0; x < w; x++) staged[x * 4 + n_staged] = row[x];
  if (++n_staged == 4) flush_staged();
}

static void luma_rows4(const uint8_t *data, int w, int c, int y, int n, float *dst) {
  for (int k = 0; k < 4; k++) {
    if (k >= n) {
      for (int x = 0; x < w; x++) dst[x * 4 + k] = 0;
      continue;
    }
    if (c == 1) {
      const uint8_t *p = data + (uint32_t)(y + k) * (uint32_t)w;
      for (int x = 0; x < w; x++) dst[x * 4 + k] = (float)p[x];
    } else {
      const uint8_t *p = data + (uint32_t)(y + k) * (uint32_t)w * 3u;
      for (int x = 0; x < w; x++, p += 3) dst[x * 4 + k] = (LUMA_R[p[0]] + LUMA_G[p[1]]) + LUMA_B[p[2]];
    }
  }
}

static void downsample(int w, int h, int c) {
  int win_rows = window_size(w, 64), win_cols = window_size(h, 64);
  width_g = w;
  win_rows_g = win_rows;
  for (int j = 0; j < 64; j++) keep_cols[j] = (int)(((uint32_t)(2 * j + 1) * (uint32_t)w) / 128u);
  for (int i = 0; i < 64; i++) row_of[i] = (int)(((uint32_t)(2 * i + 1) * (uint32_t)h) / 128u);
  float *mem = scratch;
  float *luma = mem;
  mem += 4 * w;
  staged = mem;
  mem += 4 * w;
  n_staged = 0;
  cb_init(&first_cols, w, h, win_cols, &mem);
  cb_init(&last_cols, 64, h, win_cols, &mem);
  for (int y = 0; y < h; y += 4) {
    int n = h - y < 4 ? h - y : 4;
    float *outs[4];
    for (int k = 0; k < 4; k++) outs[k] = cb_slot(&first_cols, k);
    luma_rows4(input, w, c, y, n, luma);
    box_rows4(luma, outs, w, win_rows, 0);
    for (int k = 0; k < n; k++)
      if (cb_push(&first_cols)) on_first_cols_output();
  }
  for (int i = 0; i < first_cols.half - 1; i++) {
    cb_finish_step(&first_cols);
    on_first_cols_output();
  }
  flush_staged();
  for (int i = 0; i < last_cols.half - 1; i++) {
    cb_finish_step(&last_cols);
    emit_last();
  }
}

/* ---- quality, DCT, median, bits ---- */

static int quality_metric(const float *b) {
  int sum = 0;
  for (int i = 0; i < 63; i++)
    for (int j = 0; j < 64; j++) {
      int d = (int)(((b[i * 64 + j] - b[(i + 1) * 64 + j]) * 100.0f) / 255.0f);
      sum += d < 0 ? -d : d;
    }
  for (int i = 0; i < 64; i++)
    for (int j = 0; j < 63; j++) {
      int d = (int)(((b[i * 64 + j] - b[i * 64 + j + 1]) * 100.0f) / 255.0f);
      sum += d < 0 ? -d : d;
    }
  int q = sum / 90;
  return q > 100 ? 100 : q;
}

/* B = D·A·Dᵀ, products rounded then summed in k order (lanes run over j, never over k). */
static void dct(const float *a, float *b) {
  for (int i = 0; i < 16; i++) {
    f4 acc[16];
    for (int q = 0; q < 16; q++) acc[q] = (f4){0, 0, 0, 0};
    for (int k = 0; k < 64; k++) {
      float dk = DCT[i * 64 + k];
      f4 d = {dk, dk, dk, dk};
      const f4 *row = (const f4 *)(a + k * 64);
      for (int q = 0; q < 16; q++) acc[q] = acc[q] + d * row[q];
    }
    for (int q = 0; q < 16; q++) *(f4 *)(TMP + i * 64 + q * 4) = acc[q];
  }
  for (int i = 0; i < 16; i++) {
    f4 acc[4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    for (int k = 0; k < 64; k++) {
      float tk = TMP[i * 64 + k];
      f4 t = {tk, tk, tk, tk};
      const f4 *d = (const f4 *)(DCT_T + k * 16);
      for (int q = 0; q < 4; q++) acc[q] = acc[q] + t * d[q];
    }
    for (int q = 0; q < 4; q++) *(f4 *)(b + i * 16 + q * 4) = acc[q];
  }
}

static float torben(const float *m, int n) {
  float min = m[0], max = m[0];
  for (int i = 1; i < n; i++) {
    if (m[i] < min) min = m[i];
    if (m[i] > max) max = m[i];
  }
  int half_n = (n + 1) / 2;
  for (;;) {
    float guess = (min + max) / 2.0f;
    int less = 0, greater = 0, equal = 0;
    float max_lt = min, min_gt = max;
    for (int i = 0; i < n; i++) {
      float v = m[i];
      if (v < guess) {
        less++;
        if (v > max_lt) max_lt = v;
      } else if (v > guess) {
        greater++;
        if (v < min_gt) min_gt = v;
      } else equal++;
    }
    if (less <= half_n && greater <= half_n) {
      if (less >= half_n) return max_lt;
      if (less + equal >= half_n) return guess;
      return min_gt;
    }
    if (less > greater) max = max_lt;
    else min = min_gt;
  }
}

static void bits(const float *b, uint16_t *words) {
  float median = torben(b, 256);
  for (int i = 0; i < 16; i++) {
    int w = 0;
    for (int j = 0; j < 16; j++)
      if (b[i * 16 + j] > median) w |= 1 << j;
    words[15 - i] = (uint16_t)w;
  }
}

static void dihedral(const float *a) {
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 16; j++) {
      float v = a[i * 16 + j];
      int ij = i * 16 + j, ji = j * 16 + i;
      COEF[1][ji] = (j & 1) ? v : -v;
      COEF[2][ij] = ((i + j) & 1) ? -v : v;
      COEF[3][ji] = (i & 1) ? v : -v;
      COEF[4][ij] = (i & 1) ? v : -v;
      COEF[5][ij] = (j & 1) ? v : -v;
      COEF[6][ji] = v;
      COEF[7][ji] = ((i + j) & 1) ? -v : v;
    }
}

/*
 * Hashes the w×h×c pixels at the pointer pdq_prepare() returned (w, h ≥ 5, c = 1 or 3). Results:
 * pdq_words() (16 words per variant, 1 or 8 variants), pdq_quality(). Returns 0.
 */
int pdq_run(int w, int h, int c, int with_dihedral) {
  if (w == 64 && h == 64 && !with_dihedral) {
    for (int y = 0; y < 64; y++)
      for (int x = 0; x < 64; x++) {
        const uint8_t *p = input + (y * 64 + x) * c;
        BLOCK[y * 64 + x] = c == 1 ? (float)p[0] : (LUMA_R[p[0]] + LUMA_G[p[1]]) + LUMA_B[p[2]];
      }
  } else {
    downsample(w, h, c);
  }
  QUALITY = quality_metric(BLOCK);
  dct(BLOCK, COEF[0]);
  if (!with_dihedral) {
    bits(COEF[0], WORDS);
    return 0;
  }
  dihedral(COEF[0]);
  for (int v = 0; v < 8; v++) bits(COEF[v], WORDS + v * 16);
  return 0;
}
