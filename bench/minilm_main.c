/* minilm_main.c — times the generated MiniLM (tfxc ... --dim batch=1 --max seq=N
 * --weights=file --name minilm): reads SEQ int64 token ids from IDS.bin, runs
 * minilm_run REPS times (attention mask all ones, token types 0), prints the
 * median and best milliseconds, and writes last_hidden_state (SEQ x 384
 * floats) to OUT.bin for the comparison with onnxruntime.
 * usage: ./minilm_bench minilm.bin IDS.bin SEQ REPS OUT.bin */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "minilm.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void *read_file(const char *path, size_t want) {
  void *p = NULL;
  FILE *f = fopen(path, "rb");
  if (!f || posix_memalign(&p, 64, want ? want : 1) || fread(p, 1, want, f) != want) {
    fprintf(stderr, "minilm_bench: cannot read %zu bytes from %s\n", want, path);
    exit(1);
  }
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s minilm.bin IDS.bin SEQ REPS OUT.bin\n", argv[0]);
    return 2;
  }
  int64_t seq = atoll(argv[3]);
  int reps = atoi(argv[4]);
  if (seq < 1 || seq > MINILM_MAX_SEQ || reps < 1) return 2;
  void *w = read_file(argv[1], MINILM_WEIGHTS_BYTES);
  int64_t *ids = read_file(argv[2], sizeof(int64_t) * (size_t)seq);
  int64_t *mask = malloc(sizeof(int64_t) * (size_t)seq), *types = calloc((size_t)seq, sizeof(int64_t));
  float *hidden = malloc(sizeof(float) * (size_t)seq * 384), pooled[384];
  double *t = malloc(sizeof(double) * (size_t)reps);
  void *ws = NULL;
  if (!mask || !types || !hidden || !t || posix_memalign(&ws, 64, MINILM_WORKSPACE_BYTES)) return 1;
  for (int64_t i = 0; i < seq; i++) mask[i] = 1;
  static minilm_ctx ctx;
  int st = minilm_init(&ctx, ws, MINILM_WORKSPACE_BYTES, w, MINILM_WEIGHTS_BYTES);
  if (st != MINILM_OK || minilm_run(&ctx, seq, ids, mask, types, hidden, pooled) != MINILM_OK) {
    fprintf(stderr, "minilm_bench: %s\n", minilm_status_str(st));
    return 1;
  }
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    minilm_run(&ctx, seq, ids, mask, types, hidden, pooled);
    t[r] = now_ms() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  printf("%.3f %.3f\n", t[reps / 2], t[0]);
  FILE *f = fopen(argv[5], "wb");
  if (!f || fwrite(hidden, sizeof(float), (size_t)seq * 384, f) != (size_t)seq * 384) return 1;
  fclose(f);
  return 0;
}
