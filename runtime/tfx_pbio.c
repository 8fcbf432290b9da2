/* tfx_pbio.c — a libc-only reader and writer of serialised ONNX TensorProto
 * (.pb) files, printed textually into programs that tfxc generates with
 * --emit-main (generated code may depend on libc only, so this is the one
 * protobuf wire reader written by hand).  Invariants: static functions only,
 * prefixed tfx_pb_, all used by the --emit-main program (it compiles with
 * -Wall -Werror); no globals; every varint, length and count read from a file
 * is bounds-checked, since the files come from users.  Tensor data is
 * converted to and from the host's native storage of the dtype (float16 and
 * bfloat16 as uint16_t bits, bool as uint8_t 0/1); on disk it is little-endian.
 *
 * TensorProto fields read: dims (1, packed or not), data_type (2),
 * float_data (4), int32_data (5: also int8/uint8/int16/uint16/bool/float16/
 * bfloat16), int64_data (7), raw_data (9), double_data (10), uint64_data (11),
 * data_location (14, EXTERNAL refused); every other field is skipped.
 * Written: dims, data_type, name, raw_data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TFX_PB_MAX_RANK 8

/* A TensorProto file read into memory: its header, and where its data is. */
typedef struct {
  int data_type; /* TensorProto.DataType code */
  int rank;
  int64_t dims[TFX_PB_MAX_RANK];
  int64_t numel;
  const unsigned char *raw; /* raw_data bytes inside buf, or NULL */
  size_t raw_len;
  unsigned char *buf; /* the whole file (malloc'd) */
  size_t len;
} tfx_pb_tensor;

/* Bytes per element of a supported dtype, 0 for the rest (strings,
 * float8/float4/int4, complex). */
static size_t tfx_pb_elem_size(int data_type) {
  switch (data_type) {
  case 2: case 3: case 9: return 1;           /* uint8 int8 bool */
  case 4: case 5: case 10: case 16: return 2; /* uint16 int16 float16 bfloat16 */
  case 1: case 6: case 12: return 4;          /* float int32 uint32 */
  case 7: case 11: case 13: return 8;         /* int64 double uint64 */
  default: return 0;
  }
}

static const char *tfx_pb_type_name(int data_type) {
  switch (data_type) {
  case 1: return "float32";
  case 2: return "uint8";
  case 3: return "int8";
  case 4: return "uint16";
  case 5: return "int16";
  case 6: return "int32";
  case 7: return "int64";
  case 8: return "string";
  case 9: return "bool";
  case 10: return "float16";
  case 11: return "float64";
  case 12: return "uint32";
  case 13: return "uint64";
  case 14: return "complex64";
  case 15: return "complex128";
  case 16: return "bfloat16";
  case 17: case 18: case 19: case 20: case 24: return "float8";
  case 21: return "uint4";
  case 22: return "int4";
  case 23: return "float4e2m1";
  default: return "unknown";
  }
}

/* ---- wire format ----------------------------------------------------------- */

/* Read one varint at *p (< end); -1 if it runs off the end or past 10 bytes. */
static int tfx_pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  uint64_t r = 0;
  int shift = 0;
  while (*p < end && shift < 64) {
    unsigned char b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
    shift += 7;
  }
  return -1;
}

/* Little-endian bytes -> integer bits, and back. */
static uint64_t tfx_pb_get_le(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void tfx_pb_put_le(unsigned char *p, size_t n, uint64_t v) {
  size_t i;
  for (i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Store the low n bytes of bits as element i of native storage (memcpy keeps
 * signed types exact without implementation-defined conversions). */
static void tfx_pb_store(void *dst, size_t n, int64_t i, uint64_t bits) {
  unsigned char *d = (unsigned char *)dst + (size_t)i * n;
  if (n == 1) {
    uint8_t x = (uint8_t)bits;
    memcpy(d, &x, 1);
  } else if (n == 2) {
    uint16_t x = (uint16_t)bits;
    memcpy(d, &x, 2);
  } else if (n == 4) {
    uint32_t x = (uint32_t)bits;
    memcpy(d, &x, 4);
  } else {
    memcpy(d, &bits, 8);
  }
}

static uint64_t tfx_pb_load(const void *src, size_t n, int64_t i) {
  const unsigned char *s = (const unsigned char *)src + (size_t)i * n;
  if (n == 1) {
    uint8_t x;
    memcpy(&x, s, 1);
    return x;
  } else if (n == 2) {
    uint16_t x;
    memcpy(&x, s, 2);
    return x;
  } else if (n == 4) {
    uint32_t x;
    memcpy(&x, s, 4);
    return x;
  } else {
    uint64_t x;
    memcpy(&x, s, 8);
    return x;
  }
}

/* One field: its number and wire type; for wire type 0 the value, for 1, 2
 * and 5 the bytes.  Returns -1 on malformed input (also on groups). */
typedef struct {
  uint64_t field;
  int wire;
  uint64_t value;
  const unsigned char *data;
  size_t len;
} tfx_pb_field;

static int tfx_pb_next(const unsigned char **p, const unsigned char *end, tfx_pb_field *f) {
  uint64_t key, n;
  if (tfx_pb_varint(p, end, &key) != 0) return -1;
  f->field = key >> 3;
  f->wire = (int)(key & 7);
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  if (f->field == 0) return -1;
  switch (f->wire) {
  case 0:
    return tfx_pb_varint(p, end, &f->value);
  case 1:
  case 5:
    n = f->wire == 1 ? 8 : 4;
    if ((uint64_t)(end - *p) < n) return -1;
    f->data = *p;
    f->len = (size_t)n;
    f->value = tfx_pb_get_le(*p, (size_t)n);
    *p += n;
    return 0;
  case 2:
    if (tfx_pb_varint(p, end, &n) != 0) return -1;
    if ((uint64_t)(end - *p) < n) return -1;
    f->data = *p;
    f->len = (size_t)n;
    *p += n;
    return 0;
  default:
    return -1;
  }
}

/* The field carrying a dtype's values when raw_data is absent. */
static int tfx_pb_typed_field(int data_type) {
  switch (data_type) {
  case 1: return 4;                                          /* float_data */
  case 2: case 3: case 4: case 5: case 6: case 9: case 10: case 16: return 5; /* int32_data */
  case 7: return 7;                                          /* int64_data */
  case 11: return 10;                                        /* double_data */
  case 12: case 13: return 11;                               /* uint64_data */
  default: return 0;
  }
}

/* ---- reading ------------------------------------------------------------- */

static void tfx_pb_free(tfx_pb_tensor *t) {
  free(t->buf);
  t->buf = NULL;
  t->raw = NULL;
}

/* Read the file and its header (dims, dtype, where the data is).  On error
 * returns -1 with a message in err, and t owns nothing. */
static int tfx_pb_open(const char *path, tfx_pb_tensor *t, char *err, size_t errlen) {
  FILE *f;
  size_t cap = 1 << 16, got;
  const unsigned char *p, *end;
  tfx_pb_field fld;
  int external = 0, k;
  memset(t, 0, sizeof *t);
  f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open", path);
    return -1;
  }
  t->buf = (unsigned char *)malloc(cap);
  if (!t->buf) goto oom;
  for (;;) {
    got = fread(t->buf + t->len, 1, cap - t->len, f);
    t->len += got;
    if (t->len < cap) break;
    if (cap > ((size_t)-1) / 2) goto oom;
    {
      unsigned char *nb = (unsigned char *)realloc(t->buf, cap * 2);
      if (!nb) goto oom;
      t->buf = nb;
      cap *= 2;
    }
  }
  if (ferror(f)) {
    fclose(f);
    tfx_pb_free(t);
    snprintf(err, errlen, "%s: read error", path);
    return -1;
  }
  fclose(f);
  f = NULL;

  p = t->buf;
  end = t->buf + t->len;
  while (p < end) {
    if (tfx_pb_next(&p, end, &fld) != 0) goto bad;
    if (fld.field == 1) { /* dims */
      const unsigned char *q = fld.data, *qe = fld.data ? fld.data + fld.len : NULL;
      uint64_t v = fld.value;
      if (fld.wire != 0 && fld.wire != 2) goto bad;
      for (;;) {
        if (fld.wire == 2) {
          if (q >= qe) break;
          if (tfx_pb_varint(&q, qe, &v) != 0) goto bad;
        }
        if (t->rank >= TFX_PB_MAX_RANK) {
          snprintf(err, errlen, "%s: tensor rank exceeds %d", path, TFX_PB_MAX_RANK);
          goto fail;
        }
        if ((int64_t)v < 0) {
          snprintf(err, errlen, "%s: negative dim %lld", path, (long long)(int64_t)v);
          goto fail;
        }
        t->dims[t->rank++] = (int64_t)v;
        if (fld.wire == 0) break;
      }
    } else if (fld.field == 2) {
      if (fld.wire != 0) goto bad;
      t->data_type = (int)(int32_t)fld.value;
    } else if (fld.field == 9) {
      if (fld.wire != 2) goto bad;
      t->raw = fld.data;
      t->raw_len = fld.len;
    } else if (fld.field == 14) {
      if (fld.wire != 0) goto bad;
      external = fld.value == 1;
    }
  }
  if (external) {
    snprintf(err, errlen, "%s: tensors with external data are not supported here", path);
    goto fail;
  }
  if (tfx_pb_elem_size(t->data_type) == 0) {
    snprintf(err, errlen, "%s: unsupported data type %s (%d)", path,
             tfx_pb_type_name(t->data_type), t->data_type);
    goto fail;
  }
  t->numel = 1;
  for (k = 0; k < t->rank; k++) {
    if (t->dims[k] != 0 && t->numel > (INT64_MAX / 16) / t->dims[k]) {
      snprintf(err, errlen, "%s: tensor too large", path);
      goto fail;
    }
    t->numel *= t->dims[k];
  }
  if ((uint64_t)t->numel > ((size_t)-1) / 16) {
    snprintf(err, errlen, "%s: tensor too large", path);
    goto fail;
  }
  return 0;
oom:
  if (f) fclose(f);
  tfx_pb_free(t);
  snprintf(err, errlen, "%s: out of memory", path);
  return -1;
bad:
  snprintf(err, errlen, "%s: malformed TensorProto", path);
fail:
  tfx_pb_free(t);
  return -1;
}

/* Convert the tensor's values into dst, which holds numel elements of the
 * dtype's native storage (dst_bytes must equal numel * elem_size). */
static int tfx_pb_read_data(const char *path, const tfx_pb_tensor *t, void *dst,
                            size_t dst_bytes, char *err, size_t errlen) {
  size_t es = tfx_pb_elem_size(t->data_type);
  int dt = t->data_type, want = tfx_pb_typed_field(dt);
  int64_t i, count = 0;
  const unsigned char *p, *end;
  tfx_pb_field fld;
  if (es == 0 || (size_t)t->numel * es != dst_bytes) {
    snprintf(err, errlen, "%s: data size mismatch", path);
    return -1;
  }
  if (t->raw) {
    if (t->raw_len != dst_bytes) {
      snprintf(err, errlen, "%s: raw_data has %lu bytes, expected %lu", path,
               (unsigned long)t->raw_len, (unsigned long)dst_bytes);
      return -1;
    }
    for (i = 0; i < t->numel; i++) {
      uint64_t bits = tfx_pb_get_le(t->raw + (size_t)i * es, es);
      if (dt == 9) bits = bits != 0;
      tfx_pb_store(dst, es, i, bits);
    }
    return 0;
  }
  p = t->buf;
  end = t->buf + t->len;
  while (p < end) {
    const unsigned char *q, *qe;
    int packed;
    if (tfx_pb_next(&p, end, &fld) != 0) goto bad;
    if (fld.field != (uint64_t)want) continue;
    packed = fld.wire == 2;
    q = fld.data;
    qe = fld.data ? fld.data + fld.len : NULL; /* no arithmetic on NULL for varint fields */
    for (;;) {
      uint64_t bits;
      if (want == 4 || want == 10) { /* fixed32 / fixed64 */
        size_t w = want == 4 ? 4 : 8;
        if (packed) {
          if (q >= qe) break;
          if ((size_t)(qe - q) < w) goto bad;
          bits = tfx_pb_get_le(q, w);
          q += w;
        } else {
          if (fld.wire != (want == 4 ? 5 : 1)) goto bad;
          bits = fld.value;
        }
      } else { /* varints */
        if (packed) {
          if (q >= qe) break;
          if (tfx_pb_varint(&q, qe, &bits) != 0) goto bad;
        } else {
          if (fld.wire != 0) goto bad;
          bits = fld.value;
        }
      }
      if (count >= t->numel) {
        snprintf(err, errlen, "%s: more values than the %lld its dims hold", path,
                 (long long)t->numel);
        return -1;
      }
      if (dt == 9) bits = bits != 0;
      tfx_pb_store(dst, es, count++, bits);
      if (!packed) break;
    }
  }
  if (count != t->numel) {
    snprintf(err, errlen, "%s: has %lld values, its dims hold %lld", path, (long long)count,
             (long long)t->numel);
    return -1;
  }
  return 0;
bad:
  snprintf(err, errlen, "%s: malformed TensorProto", path);
  return -1;
}

/* ---- writing ------------------------------------------------------------- */

static size_t tfx_pb_put_varint(unsigned char *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (unsigned char)v;
  return n;
}

/* Write data (numel elements of data_type's native storage) as a TensorProto
 * with dims, data_type, name and little-endian raw_data. */
static int tfx_pb_write(const char *path, const char *name, int data_type, int rank,
                        const int64_t *dims, const void *data, char *err, size_t errlen) {
  unsigned char hdr[16 * (TFX_PB_MAX_RANK + 4)], chunk[4096];
  size_t es = tfx_pb_elem_size(data_type), h = 0, nlen = name ? strlen(name) : 0, bytes, c = 0;
  int64_t numel = 1, i;
  int k, ok;
  FILE *f;
  if (es == 0 || rank < 0 || rank > TFX_PB_MAX_RANK) {
    snprintf(err, errlen, "%s: cannot write this tensor", path);
    return -1;
  }
  for (k = 0; k < rank; k++) {
    hdr[h++] = 0x08; /* dims, field 1 varint */
    h += tfx_pb_put_varint(hdr + h, (uint64_t)dims[k]);
    numel *= dims[k];
  }
  hdr[h++] = 0x10; /* data_type, field 2 varint */
  h += tfx_pb_put_varint(hdr + h, (uint64_t)data_type);
  f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot create", path);
    return -1;
  }
  ok = fwrite(hdr, 1, h, f) == h;
  if (nlen) { /* name, field 8 bytes */
    h = 0;
    hdr[h++] = 0x42;
    h += tfx_pb_put_varint(hdr + h, (uint64_t)nlen);
    ok = ok && fwrite(hdr, 1, h, f) == h && fwrite(name, 1, nlen, f) == nlen;
  }
  bytes = (size_t)numel * es;
  h = 0;
  hdr[h++] = 0x4a; /* raw_data, field 9 bytes */
  h += tfx_pb_put_varint(hdr + h, (uint64_t)bytes);
  ok = ok && fwrite(hdr, 1, h, f) == h;
  for (i = 0; i < numel && ok; i++) {
    tfx_pb_put_le(chunk + c, es, tfx_pb_load(data, es, i));
    c += es;
    if (c + 8 > sizeof chunk) {
      ok = fwrite(chunk, 1, c, f) == c;
      c = 0;
    }
  }
  if (ok && c) ok = fwrite(chunk, 1, c, f) == c;
  if (fclose(f) != 0) ok = 0;
  if (!ok) {
    snprintf(err, errlen, "%s: write error", path);
    return -1;
  }
  return 0;
}
