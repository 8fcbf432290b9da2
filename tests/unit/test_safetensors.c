/* test_safetensors.c — the safetensors checkpoint reader: a good file reads
 * back bit for bit (every dtype, a scalar, an empty tensor, metadata
 * ignored), a misaligned tensor still reads, 300 names are found, a sharded
 * checkpoint opens through its index or folder, and every broken file fails
 * with messages naming the file and the tensor while its twin without the
 * defect opens.  Run from the repository root; the files come from
 * tests/data/safetensors/make_fixtures.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/ir.h"

#define DATA "tests/data/safetensors/"

#include "tests/unit/check.h"

static TfxCheckpoint *open_ok(const char *path) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxCheckpoint *c = tfx_checkpoint_open(path, &d);
  if (!c || d.count) {
    fprintf(stderr, "%s: expected to open cleanly, got %s and:\n%s\n", path, c ? "a checkpoint" : "NULL",
            d.text ? d.text : "");
    failures++;
  }
  tfx_diag_deinit(&d);
  return c;
}

/* The tensor name with dtype and dims, or NULL (counted as a failure). */
static const TfxTensor *get(const TfxCheckpoint *c, const char *name, TfxDtype dt, int rank,
                            const int64_t *dims) {
  const TfxTensor *t = tfx_checkpoint_get(c, name);
  if (!t) {
    fprintf(stderr, "tensor '%s' not found\n", name);
    failures++;
    return NULL;
  }
  bool ok = t->dtype == dt && t->rank == rank && t->data != NULL;
  for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
  if (!ok) {
    fprintf(stderr, "tensor '%s': got %s rank %d\n", name, tfx_dtype_name(t->dtype), t->rank);
    failures++;
    return NULL;
  }
  /* a view (or copy) aligned for its element type */
  CHECK((uintptr_t)t->data % tfx_dtype_bytes(dt) == 0);
  return t;
}

/* path opens to the file `file` (path may be its folder). */
static void test_good(const char *path, const char *file) {
  TfxCheckpoint *c = open_ok(path);
  if (!c) return;
  CHECK(tfx_checkpoint_count(c) == 12);
  /* header order; __metadata__ is not a tensor */
  CHECK(tfx_checkpoint_name(c, 0) && strcmp(tfx_checkpoint_name(c, 0), "f64") == 0);
  CHECK(tfx_checkpoint_name(c, 11) && strcmp(tfx_checkpoint_name(c, 11), "empty") == 0);
  CHECK(tfx_checkpoint_name(c, 12) == NULL && tfx_checkpoint_name(c, -1) == NULL);
  CHECK(tfx_checkpoint_get(c, "__metadata__") == NULL);
  CHECK(tfx_checkpoint_get(c, "format") == NULL);
  CHECK(tfx_checkpoint_get(c, "nope") == NULL && tfx_checkpoint_file_of(c, "nope") == NULL);
  const char *f = tfx_checkpoint_file_of(c, "w.f32");
  CHECK(f && strcmp(f, file) == 0);

  const TfxTensor *t;
  if ((t = get(c, "f64", TFX_F64, 1, (int64_t[]){3}))) {
    const double *v = t->data;
    CHECK(v[0] == 1.0 / 3.0 && v[1] == -1e300 && v[2] == 2.5);
  }
  if ((t = get(c, "i64", TFX_I64, 1, (int64_t[]){2}))) {
    const int64_t *v = t->data;
    CHECK(v[0] == -(INT64_C(1) << 62) + 1 && v[1] == INT64_C(9007199254740993));
  }
  if ((t = get(c, "w.f32", TFX_F32, 2, (int64_t[]){2, 3}))) {
    const float *v = t->data;
    CHECK(v[0] == 0.5f && v[1] == -1.25f && v[2] == 3.0f && v[3] == 1e-30f && v[4] == -2.5e10f &&
          v[5] == 0.1f);
  }
  if ((t = get(c, "i32", TFX_I32, 1, (int64_t[]){3}))) {
    const int32_t *v = t->data;
    CHECK(v[0] == -7 && v[1] == INT32_MAX && v[2] == 0);
  }
  if ((t = get(c, "scalar", TFX_F32, 0, NULL))) {
    CHECK(tfx_tensor_numel(t) == 1 && *(const float *)t->data == 42.0f);
  }
  if ((t = get(c, "b.f16", TFX_F16, 1, (int64_t[]){4}))) {
    const uint16_t *v = t->data;
    CHECK(v[0] == 0x3C00 && v[1] == 0xC000 && v[2] == 0x3800 && v[3] == 0x7BFF);
  }
  if ((t = get(c, "e.bf16", TFX_BF16, 2, (int64_t[]){2, 2}))) {
    const uint16_t *v = t->data;
    CHECK(v[0] == 0x3F80 && v[1] == 0xC040 && v[2] == 0x4049 && v[3] == 0x0000);
    CHECK(tfx_bf16_to_f32(v[2]) == 3.140625f);
  }
  if ((t = get(c, "i16", TFX_I16, 1, (int64_t[]){2}))) {
    const int16_t *v = t->data;
    CHECK(v[0] == -32768 && v[1] == 1234);
  }
  if ((t = get(c, "i8", TFX_I8, 1, (int64_t[]){3}))) {
    const int8_t *v = t->data;
    CHECK(v[0] == -128 && v[1] == 0 && v[2] == 127);
  }
  if ((t = get(c, "u8", TFX_U8, 2, (int64_t[]){2, 2}))) {
    const uint8_t *v = t->data;
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 254 && v[3] == 255);
  }
  if ((t = get(c, "flag", TFX_BOOL, 1, (int64_t[]){3}))) {
    const uint8_t *v = t->data;
    CHECK(v[0] == 1 && v[1] == 0 && v[2] == 1);
  }
  if ((t = get(c, "empty", TFX_F32, 2, (int64_t[]){0, 4}))) {
    CHECK(tfx_tensor_numel(t) == 0 && tfx_tensor_bytes(t) == 0);
  }
  tfx_checkpoint_close(c);
}

static void test_misaligned_and_many(void) {
  TfxCheckpoint *c = open_ok(DATA "misaligned.safetensors");
  if (c) {
    const TfxTensor *t = get(c, "w", TFX_F32, 1, (int64_t[]){3});
    if (t) {
      const float *v = t->data;
      CHECK(v[0] == 1.5f && v[1] == -2.0f && v[2] == 1e-3f);
    }
    get(c, "none", TFX_F32, 1, (int64_t[]){0});
    CHECK(tfx_checkpoint_count(c) == 3);
    const TfxTensor *p = get(c, "pad", TFX_U8, 1, (int64_t[]){1});
    if (p) CHECK(*(const uint8_t *)p->data == 7);
    tfx_checkpoint_close(c);
  }
  c = open_ok(DATA "many.safetensors");
  if (!c) return;
  CHECK(tfx_checkpoint_count(c) == 300);
  for (int i = 0; i < 300; i++) {
    char name[32];
    snprintf(name, sizeof name, "layer.%d.w", i);
    const TfxTensor *t = get(c, name, TFX_I32, 0, NULL);
    if (t && *(const int32_t *)t->data != i * 7 - 1000) {
      fprintf(stderr, "%s = %d\n", name, *(const int32_t *)t->data);
      failures++;
    }
    CHECK(tfx_checkpoint_name(c, i) && strcmp(tfx_checkpoint_name(c, i), name) == 0);
  }
  CHECK(tfx_checkpoint_get(c, "layer.300.w") == NULL);
  tfx_checkpoint_close(c);
}

static void test_sharded(const char *path) {
  TfxCheckpoint *c = open_ok(path);
  if (!c) return;
  CHECK(tfx_checkpoint_count(c) == 3);
  const TfxTensor *t;
  if ((t = get(c, "a", TFX_F32, 1, (int64_t[]){2})))
    CHECK(((const float *)t->data)[0] == 1.0f && ((const float *)t->data)[1] == 2.0f);
  if ((t = get(c, "b", TFX_F32, 1, (int64_t[]){1}))) CHECK(*(const float *)t->data == 3.0f);
  if ((t = get(c, "c", TFX_F32, 1, (int64_t[]){3})))
    CHECK(((const float *)t->data)[2] == 6.0f);
  const char *fa = tfx_checkpoint_file_of(c, "a"), *fc = tfx_checkpoint_file_of(c, "c");
  CHECK(fa && strcmp(fa, DATA "sharded/model-00001-of-00002.safetensors") == 0);
  CHECK(fc && strcmp(fc, DATA "sharded/model-00002-of-00002.safetensors") == 0);
  CHECK(tfx_checkpoint_get(c, "d") == NULL); /* dup.safetensors is not listed */
  tfx_checkpoint_close(c);
}

/* Opening path fails; the messages name file (and 'tensor' when given) and
 * contain needle. */
static void expect_error(const char *path, const char *file, const char *tensor,
                         const char *needle) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxCheckpoint *c = tfx_checkpoint_open(path, &d);
  const char *text = d.text ? d.text : "";
  char quoted[256] = "";
  if (tensor) snprintf(quoted, sizeof quoted, "tensor '%s'", tensor);
  bool ok = !c && d.count >= 1 && strstr(text, file) && strstr(text, quoted) && strstr(text, needle);
  if (!ok) {
    fprintf(stderr, "%s: expected an error naming %s, \"%s\" and \"%s\"; got %s and:\n%s\n", path,
            file, quoted, needle, c ? "a checkpoint" : "NULL", text);
    failures++;
  }
  tfx_checkpoint_close(c);
  tfx_diag_deinit(&d);
}

static void test_errors(void) {
  static const struct {
    const char *name, *tensor, *needle;
  } cases[] = {
      {"short", NULL, "too short"},
      {"header_past_end", NULL, "past the end"},
      {"header_too_big", NULL, "100 MiB limit"},
      {"json_invalid", NULL, "not valid JSON"},
      {"header_not_object", NULL, "header is not a JSON object"},
      {"metadata_type", NULL, "__metadata__"},
      {"entry_not_object", "t", "not a JSON object"},
      {"dtype_not_string", "t", "\"dtype\" is not a string"},
      {"dtype_missing", "t", "\"dtype\" is missing"},
      {"shape_not_array", "t", "\"shape\""},
      {"dim_not_int", "t", "shape[0] is not an integer"},
      {"offsets_not_int", "t", "not integers"},
      {"offsets_count", "t", "3 entries"},
      {"unknown_dtype", "t", "unknown dtype 'Q7'"},
      {"unsupported_dtype", "t", "F8_E4M3 is not supported"},
      {"negative_dim", "t", "negative"},
      {"overflow_dim", "t", "overflows"},
      {"rank9", "t", "rank 9"},
      {"negative_offset", "t", "negative data_offsets"},
      {"offsets_outside", "t", "outside the data section"},
      {"begin_after_end", "t", "begin after end"},
      {"overlap", "t", "overlaps tensor 'ok'"},
      {"byte_length", "t", "20 bytes"},
      {"duplicate", "t", "duplicate name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char bad[256], ok[256];
    snprintf(bad, sizeof bad, DATA "errors/%s.bad.safetensors", cases[i].name);
    snprintf(ok, sizeof ok, DATA "errors/%s.ok.safetensors", cases[i].name);
    expect_error(bad, bad, cases[i].tensor, cases[i].needle);
    TfxCheckpoint *c = open_ok(ok);
    /* the twin's tensors are there, so the check did not pass by accident */
    if (c && tfx_checkpoint_count(c) > 0) CHECK(tfx_checkpoint_get(c, "ok") != NULL);
    tfx_checkpoint_close(c);
  }

#define SH DATA "sharded/"
  expect_error(SH "bad_missing.index.json", SH "bad_missing.index.json", "c",
               "shard 'model-00003-of-00003.safetensors' cannot be read");
  expect_error(SH "bad_slash.index.json", SH "bad_slash.index.json", "c", "not a plain file name");
  expect_error(SH "bad_dotdot.index.json", SH "bad_dotdot.index.json", "c", "not a plain file name");
  expect_error(SH "bad_notinshard.index.json", SH "model-00002-of-00002.safetensors", "b",
               "not in this shard");
  expect_error(SH "bad_dup.index.json", SH "model-00001-of-00002.safetensors", "a",
               "duplicate name");
  expect_error(SH "bad_types.index.json", SH "bad_types.index.json", "b", "not a string");
  expect_error(SH "bad_wm.index.json", SH "bad_wm.index.json", NULL, "\"weight_map\"");
  expect_error(SH "bad_json.index.json", SH "bad_json.index.json", "a", "duplicate name");
  expect_error(DATA "nothing_here", DATA "nothing_here", NULL, "cannot open");
  expect_error(DATA "errors", DATA "errors", NULL, "neither model.safetensors");
}

int main(void) {
  test_good(DATA "good.safetensors", DATA "good.safetensors");
  test_good(DATA "single", DATA "single/model.safetensors");
  test_misaligned_and_many();
  test_sharded(DATA "sharded");
  test_sharded(DATA "sharded/model.safetensors.index.json");
  test_errors();
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("test_safetensors: ok\n");
  return 0;
}
