/* fuzz_pbio — the hand-written .pb reader and writer that --emit-main programs
 * carry (runtime/tfx_pbio.c, included here whole: its functions are static).
 * Beyond crashes it checks two oracles: what both it and protobuf-c's reader
 * (tfx_tensorproto_read) accept must read the same dtype, dims and bytes; and
 * what it reads, tfx_pb_write writes back and tfx_pb_open reads unchanged. */
#include "frontend/frontend.h"
#include "runtime/tfx_pbio.c"
#include "tests/fuzz/fuzz_common.h"

#define PBIO_MAX_BYTES ((size_t)1 << 24)

static void mismatch(const char *what) {
  fprintf(stderr, "fuzz_pbio: %s\n", what);
  abort();
}

/* Read path fully with tfx_pbio into a malloc'd buffer; NULL when refused. */
static void *pbio_read(const char *path, tfx_pb_tensor *t, size_t *bytes) {
  char err[1024];
  if (tfx_pb_open(path, t, err, sizeof err) != 0) {
    if (!strstr(err, path)) mismatch("an error message that does not name the file");
    return NULL;
  }
  *bytes = (size_t)t->numel * tfx_pb_elem_size(t->data_type);
  void *buf = *bytes <= PBIO_MAX_BYTES ? malloc(*bytes ? *bytes : 1) : NULL;
  if (!buf || tfx_pb_read_data(path, t, buf, *bytes, err, sizeof err) != 0) {
    free(buf);
    tfx_pb_free(t);
    return NULL;
  }
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char in_path[512], out_path[512], err[1024];
  snprintf(in_path, sizeof in_path, "%s", tfx_fuzz_write("tensor.pb", data, size));
  tfx_pb_tensor t;
  size_t bytes = 0;
  void *buf = pbio_read(in_path, &t, &bytes);
  if (!buf) return 0;
  (void)tfx_pb_type_name(t.data_type);

  /* protobuf-c's reading of the same file */
  TfxDiag d;
  tfx_diag_init(&d);
  TfxTensor ref;
  char *name = NULL;
  if (tfx_tensorproto_read(in_path, &ref, &name, &d) == TFX_OK) {
    if (ref.dtype != tfx_dtype_from_onnx(t.data_type)) mismatch("dtype differs from protobuf-c's");
    if (ref.rank != t.rank) mismatch("rank differs from protobuf-c's");
    for (int k = 0; k < t.rank; k++)
      if (ref.dims[k] != t.dims[k]) mismatch("dims differ from protobuf-c's");
    if (tfx_tensor_bytes(&ref) != bytes) mismatch("byte size differs from protobuf-c's");
    if (bytes && memcmp(ref.data, buf, bytes) != 0) mismatch("data differs from protobuf-c's");
  }
  tfx_tensor_free_data(&ref);
  free(name);
  tfx_diag_deinit(&d);

  /* write it back, read it again */
  snprintf(out_path, sizeof out_path, "%s", tfx_fuzz_write("out.pb", NULL, 0));
  if (tfx_pb_write(out_path, "t", t.data_type, t.rank, t.dims, buf, err, sizeof err) != 0)
    mismatch("cannot write back what was read");
  tfx_pb_tensor t2;
  size_t bytes2 = 0;
  void *buf2 = pbio_read(out_path, &t2, &bytes2);
  if (!buf2) mismatch("cannot read back what was written");
  if (t2.data_type != t.data_type || t2.rank != t.rank || bytes2 != bytes)
    mismatch("the written tensor reads back with another header");
  for (int k = 0; k < t.rank; k++)
    if (t2.dims[k] != t.dims[k]) mismatch("the written tensor reads back with other dims");
  if (bytes && memcmp(buf, buf2, bytes) != 0) mismatch("the written tensor reads back with other data");
  free(buf2);
  tfx_pb_free(&t2);
  free(buf);
  tfx_pb_free(&t);
  return 0;
}
