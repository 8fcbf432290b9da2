/* tensorproto.c — ONNX TensorProto <-> TfxTensor.  Reads every encoding
 * (raw_data, the typed repeated fields, external files) and checks dtype,
 * rank, dims, sizes and offsets before a byte is read; nothing is allocated
 * until a tensor has passed every check, so a failure leaks nothing.
 * raw_data is little-endian, like the host (onnx_priv.h refuses others). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "frontend/onnx_priv.h"

/* ---- mapped files --------------------------------------------------------- */

TfxStatus tfx_onnx_map_file(TfxDiag *d, const char *path, void **base, size_t *size) {
  *base = NULL;
  *size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tfx_error(d, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return tfx_error(d, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return tfx_error(d, "%s: not a regular file", path);
  }
  if (st.st_size == 0) { /* mmap refuses length 0; callers decide if empty is an error */
    close(fd);
    return TFX_OK;
  }
  if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
    close(fd);
    return tfx_error(d, "%s: file too large to map", path);
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) return tfx_error(d, "%s: cannot map: %s", path, strerror(e));
  *base = p;
  *size = (size_t)st.st_size;
  return TFX_OK;
}

void tfx_onnx_unmap(void *base, size_t size) {
  if (base) munmap(base, size);
}

/* memcpy that drops the source's pages from memory as it goes when they lie
 * in the mapped model file: they stay in the page cache, and a later read
 * maps them again. */
static void copy_out(const TfxOnnxLoad *L, void *dst, const void *src, size_t bytes) {
  const char *s = src;
  uintptr_t lo = (uintptr_t)L->map_base, at = (uintptr_t)src;
  if (!lo || at < lo || bytes > L->map_size || at - lo > L->map_size - bytes) {
    memcpy(dst, src, bytes);
    return;
  }
  enum { CHUNK = 4 << 20 };
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  for (size_t done = 0; done < bytes;) {
    size_t n = bytes - done < CHUNK ? bytes - done : CHUNK;
    memcpy((char *)dst + done, s + done, n);
    uintptr_t beg = (uintptr_t)(s + done) & ~(page - 1), end = (uintptr_t)(s + done + n) & ~(page - 1);
    if (end > beg) madvise((void *)beg, end - beg, MADV_DONTNEED);
    done += n;
  }
}

/* ---- load state ----------------------------------------------------------- */

TfxStatus tfx_onnx_load_init(TfxOnnxLoad *L, TfxDiag *d, const char *path) {
  memset(L, 0, sizeof *L);
  L->d = d;
  L->path = path;
  const char *slash = strrchr(path, '/');
  L->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
  if (!L->dir) return tfx_error(d, "%s: out of memory", path);
  return TFX_OK;
}

void tfx_onnx_load_deinit(TfxOnnxLoad *L) {
  for (int i = 0; i < L->n_maps; i++) {
    tfx_onnx_unmap(L->maps[i].base, L->maps[i].size);
    free(L->maps[i].path);
  }
  free(L->maps);
  free(L->dir);
  L->maps = NULL;
  L->dir = NULL;
  L->n_maps = L->cap_maps = 0;
}

/* ---- dtypes --------------------------------------------------------------- */

const char *tfx_onnx_dtype_desc(int code, char *buf, size_t bufsize) {
  static const char *const names[] = {
      "undefined",      "float32",    "uint8",          "int8",       "uint16",    "int16",
      "int32",          "int64",      "string",         "bool",       "float16",   "float64",
      "uint32",         "uint64",     "complex64",      "complex128", "bfloat16",  "float8e4m3fn",
      "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4",      "int4",      "float4e2m1",
      "float8e8m0",     "uint2",      "int2",           "float6e2m3", "float6e3m2"};
  if (code >= 0 && code < (int)(sizeof names / sizeof names[0])) return names[code];
  snprintf(buf, bufsize, "code %d", code);
  return buf;
}

/* The tfxc dtype of an ONNX code, or TFX_UNDEF when tfxc cannot hold it. */
static TfxDtype dtype_of(int code) {
  if (code <= 0) return TFX_UNDEF; /* tfxc's own block types use negative codes */
  TfxDtype dt = tfx_dtype_from_onnx(code);
  if (dt == TFX_UNDEF || tfx_dtype_bytes(dt) == 0) return TFX_UNDEF;
  return dt;
}

/* ---- external data -------------------------------------------------------- */

static TfxStatus parse_size(TfxOnnxLoad *L, const char *what, const char *key, const char *s,
                            int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 0)
    return tfx_error(L->d, "%s: %s: external data %s '%s' is not a non-negative integer", L->path,
                     what, key, s);
  *out = (int64_t)v;
  return TFX_OK;
}

/* Refuse absolute paths and any ".." component: external data must stay in
 * the model's folder. */
static bool path_is_contained(const char *loc) {
  if (loc[0] == '/' || loc[0] == '\\') return false;
  const char *p = loc;
  while (*p) {
    const char *e = p;
    while (*e && *e != '/' && *e != '\\') e++;
    if (e - p == 2 && p[0] == '.' && p[1] == '.') return false;
    p = *e ? e + 1 : e;
  }
  return true;
}

/* Find or map the external file `loc`; returns its map or NULL. */
static TfxOnnxMap *external_map(TfxOnnxLoad *L, const char *what, const char *loc) {
  size_t n = strlen(L->dir) + strlen(loc) + 2;
  char *full = malloc(n);
  if (!full) {
    tfx_error(L->d, "%s: out of memory", L->path);
    return NULL;
  }
  snprintf(full, n, "%s/%s", L->dir, loc);
  for (int i = 0; i < L->n_maps; i++)
    if (strcmp(L->maps[i].path, full) == 0) {
      free(full);
      return &L->maps[i];
    }
  /* A symlink may still lead out of the folder: compare resolved paths. */
  char *rdir = realpath(L->dir, NULL), *rfile = realpath(full, NULL);
  if (!rfile) {
    tfx_error(L->d, "%s: %s: external data file '%s' cannot be opened: %s", L->path, what, loc,
              strerror(errno));
    free(rdir);
    free(full);
    return NULL;
  }
  size_t ld = rdir ? strlen(rdir) : 0;
  bool inside =
      rdir && strncmp(rfile, rdir, ld) == 0 && (rfile[ld] == '/' || (ld == 1 && rdir[0] == '/'));
  free(rdir);
  free(rfile);
  if (!inside) {
    tfx_error(L->d, "%s: %s: external data file '%s' resolves outside the model's folder", L->path,
              what, loc);
    free(full);
    return NULL;
  }
  void *base;
  size_t size;
  TfxDiag tmp;
  tfx_diag_init(&tmp);
  if (tfx_onnx_map_file(&tmp, full, &base, &size) != TFX_OK) {
    tfx_error(L->d, "%s: %s: external data: %s", L->path, what, tmp.text ? tmp.text : "error");
    tfx_diag_deinit(&tmp);
    free(full);
    return NULL;
  }
  tfx_diag_deinit(&tmp);
  if (L->n_maps == L->cap_maps) {
    int cap = L->cap_maps ? 2 * L->cap_maps : 4;
    TfxOnnxMap *m = realloc(L->maps, (size_t)cap * sizeof *m);
    if (!m) {
      tfx_onnx_unmap(base, size);
      free(full);
      tfx_error(L->d, "%s: out of memory", L->path);
      return NULL;
    }
    L->maps = m;
    L->cap_maps = cap;
  }
  TfxOnnxMap *m = &L->maps[L->n_maps++];
  m->path = full;
  m->base = base;
  m->size = size;
  return m;
}

/* Locate the `bytes` bytes of an external tensor; *src points into a map. */
static TfxStatus external_data(TfxOnnxLoad *L, const Onnx__TensorProto *tp, const char *what,
                               size_t bytes, const void **src) {
  const char *loc = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tfx_onnx_str(tp->external_data[i]->key);
    const char *v = tfx_onnx_str(tp->external_data[i]->value);
    if (strcmp(k, "location") == 0) {
      loc = v;
    } else if (strcmp(k, "offset") == 0) {
      if (parse_size(L, what, k, v, &offset)) return TFX_ERR;
    } else if (strcmp(k, "length") == 0) {
      if (parse_size(L, what, k, v, &length)) return TFX_ERR;
    } /* checksum and unknown keys are advisory */
  }
  if (!loc || !*loc) return tfx_error(L->d, "%s: %s: external data has no location", L->path, what);
  if (!path_is_contained(loc))
    return tfx_error(L->d,
                     "%s: %s: external data location '%s' is absolute or leaves the model's "
                     "folder ('..'); refused",
                     L->path, what, loc);
  if (length >= 0 && (uint64_t)length != (uint64_t)bytes)
    return tfx_error(L->d,
                     "%s: %s: external data length %lld does not match the tensor's %zu bytes",
                     L->path, what, (long long)length, bytes);
  TfxOnnxMap *m = external_map(L, what, loc);
  if (!m) return TFX_ERR;
  if ((uint64_t)offset > m->size || bytes > m->size - (size_t)offset)
    return tfx_error(L->d,
                     "%s: %s: external data (offset %lld, %zu bytes) lies outside '%s' (%zu bytes)",
                     L->path, what, (long long)offset, bytes, loc, m->size);
  *src = bytes ? (const char *)m->base + offset : NULL;
  return TFX_OK;
}

/* ---- TensorProto -> TfxTensor --------------------------------------------- */

/* Which typed field holds dtype dt, and how many values it has. */
static size_t typed_count(const Onnx__TensorProto *tp, TfxDtype dt, const char **field) {
  switch (dt) {
  case TFX_F32: *field = "float_data"; return tp->n_float_data;
  case TFX_F64: *field = "double_data"; return tp->n_double_data;
  case TFX_I64: *field = "int64_data"; return tp->n_int64_data;
  case TFX_U32:
  case TFX_U64: *field = "uint64_data"; return tp->n_uint64_data;
  default: *field = "int32_data"; return tp->n_int32_data; /* 8/16-bit ints, bool, f16, bf16 */
  }
}

static void fill_typed(const Onnx__TensorProto *tp, TfxDtype dt, int64_t n, void *dst) {
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
    case TFX_F32: ((float *)dst)[i] = tp->float_data[i]; break;
    case TFX_F64: ((double *)dst)[i] = tp->double_data[i]; break;
    case TFX_I64: ((int64_t *)dst)[i] = tp->int64_data[i]; break;
    case TFX_U32: ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i]; break;
    case TFX_U64: ((uint64_t *)dst)[i] = tp->uint64_data[i]; break;
    case TFX_I32: ((int32_t *)dst)[i] = tp->int32_data[i]; break;
    case TFX_I16: ((int16_t *)dst)[i] = (int16_t)tp->int32_data[i]; break;
    case TFX_I8: ((int8_t *)dst)[i] = (int8_t)tp->int32_data[i]; break;
    case TFX_U16:
    case TFX_F16: /* float16 / bfloat16 travel as their bit patterns */
    case TFX_BF16: ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i]; break;
    case TFX_U8: ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i]; break;
    case TFX_BOOL: ((uint8_t *)dst)[i] = tp->int32_data[i] != 0; break;
    default: break;
    }
  }
}

TfxStatus tfx_onnx_tensor(TfxOnnxLoad *L, const Onnx__TensorProto *tp, const char *what,
                          TfxTensor *t) {
  char buf[32];
  memset(t, 0, sizeof *t);
  if (!tp->has_data_type || tp->data_type == 0)
    return tfx_error(L->d, "%s: %s has no data type", L->path, what);
  TfxDtype dt = dtype_of(tp->data_type);
  if (dt == TFX_UNDEF)
    return tfx_error(L->d, "%s: %s has dtype %s, which tfxc does not support", L->path, what,
                     tfx_onnx_dtype_desc(tp->data_type, buf, sizeof buf));
  if (tp->n_dims > TFX_MAX_RANK)
    return tfx_error(L->d, "%s: %s has rank %zu; tfxc supports at most %d", L->path, what,
                     tp->n_dims, TFX_MAX_RANK);
  int64_t numel = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    int64_t dim = tp->dims[i];
    if (dim < 0)
      return tfx_error(L->d, "%s: %s has negative dim %lld at axis %zu", L->path, what,
                       (long long)dim, i);
    if (dim > 0 && numel > INT64_MAX / dim)
      return tfx_error(L->d, "%s: %s has too many elements", L->path, what);
    numel *= dim;
  }
  size_t esize = tfx_dtype_bytes(dt);
  if ((uint64_t)numel > (uint64_t)(PTRDIFF_MAX) / esize)
    return tfx_error(L->d, "%s: %s is too large (%lld elements)", L->path, what, (long long)numel);
  size_t bytes = (size_t)numel * esize;

  /* Find the data: external file, raw bytes, or a typed field. */
  const void *src = NULL; /* little-endian bytes to view or copy, or NULL: typed field */
  bool can_view = false;
  const char *field = NULL;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    if (external_data(L, tp, what, bytes, &src)) return TFX_ERR;
    can_view = true;
  } else if (tp->has_raw_data) {
    if (tp->raw_data.len != bytes)
      return tfx_error(L->d,
                       "%s: %s: raw_data holds %zu bytes, expected %zu (%s, %lld elements of %zu "
                       "bytes)",
                       L->path, what, tp->raw_data.len, bytes, tfx_dtype_name(dt), (long long)numel,
                       esize);
    src = tp->raw_data.data;
    can_view = true;
  } else {
    size_t count = typed_count(tp, dt, &field);
    if ((uint64_t)count != (uint64_t)numel) {
      if (count == 0)
        return tfx_error(L->d, "%s: %s has no data (expected %lld %s values in raw_data or %s)",
                         L->path, what, (long long)numel, tfx_dtype_name(dt), field);
      return tfx_error(L->d, "%s: %s: %s holds %zu values, expected %lld (%s)", L->path, what,
                       field, count, (long long)numel, tfx_dtype_name(dt));
    }
  }

  t->dtype = dt;
  t->rank = (int)tp->n_dims;
  for (int i = 0; i < t->rank; i++) t->dims[i] = tp->dims[i];
  /* A bool is a byte 0 or 1 everywhere in tfxc; raw bytes 2..255 mean true
   * (as in numpy) and are copied as 1, never viewed. */
  bool bool_fix = false;
  if (dt == TFX_BOOL && src)
    for (size_t i = 0; i < bytes && !bool_fix; i++) bool_fix = ((const uint8_t *)src)[i] > 1;
  if (bool_fix) can_view = false;
  if (L->view && can_view && src && ((uintptr_t)src % esize) == 0) {
    t->data = (void *)src; /* a view: the caller keeps the message/map alive */
    return TFX_OK;
  }
  void *dst = L->alloc(L->alloc_arg, bytes ? bytes : 1);
  if (!dst) return tfx_error(L->d, "%s: %s: out of memory (%zu bytes)", L->path, what, bytes);
  if (field)
    fill_typed(tp, dt, numel, dst);
  else if (bool_fix)
    for (size_t i = 0; i < bytes; i++) ((uint8_t *)dst)[i] = ((const uint8_t *)src)[i] != 0;
  else if (bytes)
    copy_out(L, dst, src, bytes);
  t->data = dst;
  return TFX_OK;
}

/* ---- .pb files -------------------------------------------------------------- */

static void *calloc_arg(void *arg, size_t bytes) {
  (void)arg;
  return calloc(1, bytes);
}

TfxStatus tfx_tensorproto_read(const char *path, TfxTensor *t, char **name, TfxDiag *d) {
  memset(t, 0, sizeof *t);
  if (name) *name = NULL;
  void *base;
  size_t size;
  if (tfx_onnx_map_file(d, path, &base, &size)) return TFX_ERR;
  if (size == 0) return tfx_error(d, "%s: empty file, expected a serialised TensorProto", path);
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, base);
  if (!tp) {
    tfx_onnx_unmap(base, size);
    return tfx_error(d, "%s: not a valid TensorProto (protobuf parse failed: truncated or corrupt)",
                     path);
  }
  TfxOnnxLoad L;
  TfxStatus st = tfx_onnx_load_init(&L, d, path);
  if (st == TFX_OK) {
    L.alloc = calloc_arg;
    L.view = false;
    char what[256];
    snprintf(what, sizeof what, "tensor '%s'", tfx_onnx_str(tp->name));
    st = tfx_onnx_tensor(&L, tp, what, t);
  }
  if (st == TFX_OK && name) {
    *name = strdup(tfx_onnx_str(tp->name));
    if (!*name) {
      free(t->data);
      t->data = NULL;
      st = tfx_error(d, "%s: out of memory", path);
    }
  }
  tfx_onnx_load_deinit(&L);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  tfx_onnx_unmap(base, size);
  return st;
}

TfxStatus tfx_tensorproto_write(const char *path, const TfxTensor *t, const char *name,
                                TfxDiag *d) {
  int code = tfx_dtype_to_onnx(t->dtype);
  if (code <= 0 || tfx_dtype_bytes(t->dtype) == 0)
    return tfx_error(d, "%s: cannot write a %s tensor as a TensorProto", path,
                     tfx_dtype_name(t->dtype));
  if (t->rank < 0 || t->rank > TFX_MAX_RANK)
    return tfx_error(d, "%s: cannot write a tensor of rank %d", path, t->rank);
  size_t bytes = tfx_tensor_bytes(t);
  if (bytes && !t->data) return tfx_error(d, "%s: tensor has no data to write", path);
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  int64_t dims[TFX_MAX_RANK];
  for (int i = 0; i < t->rank; i++) dims[i] = t->dims[i];
  tp.n_dims = (size_t)t->rank;
  tp.dims = dims;
  tp.has_data_type = 1;
  tp.data_type = code;
  if (name && *name) tp.name = (char *)name;
  tp.has_raw_data = 1;
  tp.raw_data.len = bytes;
  tp.raw_data.data = (uint8_t *)t->data;
  size_t n = onnx__tensor_proto__get_packed_size(&tp);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return tfx_error(d, "%s: out of memory", path);
  onnx__tensor_proto__pack(&tp, buf);
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(buf);
    return tfx_error(d, "%s: cannot create: %s", path, strerror(errno));
  }
  bool ok = fwrite(buf, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  free(buf);
  if (!ok) return tfx_error(d, "%s: write failed: %s", path, strerror(errno));
  return TFX_OK;
}
