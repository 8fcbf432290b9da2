/* safetensors.c — safetensors checkpoints: one model.safetensors, or the
 * shards a model.safetensors.index.json lists.  Each file is mapped
 * read-only; its header (8-byte little-endian length, then JSON parsed with
 * jansson) is validated completely before any tensor is handed out, and every
 * problem is reported by file and tensor.  Tensors are views into the
 * mappings (a tensor whose bytes are not aligned for its dtype is copied);
 * names are found through an open-addressing hash. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tfxc reads safetensors data (little-endian) in place; big-endian hosts are not supported"
#endif

#define ST_MAX_HEADER (100u << 20) /* a header over 100 MiB is a broken or hostile file */
#define ST_SHOW 160                /* longest name quoted in a message */

typedef struct {
  char *path; /* as given, or index folder + shard name (malloc'd) */
  void *base; /* whole file mapped read-only */
  size_t size;
} StFile;

typedef struct {
  char *name; /* malloc'd */
  TfxTensor t;
  int file;    /* index into files */
  bool copied; /* t.data is a malloc'd aligned copy, not a view */
} StEntry;

struct TfxCheckpoint {
  StFile *files;
  int n_files;
  StEntry *ents;
  int n_ents, cap_ents;
  uint32_t *index; /* entry index + 1, 0 = empty; cap a power of two */
  uint32_t index_cap;
};

/* ---- messages -------------------------------------------------------------- */

/* A name read from a file, fit for a one-line message: control characters
 * become '?', long names are cut. */
static const char *show(const char *s, char *buf) {
  size_t i = 0;
  for (; s[i] && i < ST_SHOW; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  if (s[i]) {
    memcpy(buf + i, "...", 4);
  } else {
    buf[i] = 0;
  }
  return buf;
}

/* ---- the name hash --------------------------------------------------------- */

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Slot holding name, or the empty slot where it would go. */
static uint32_t *slot_of(const TfxCheckpoint *c, const char *name) {
  uint32_t mask = c->index_cap - 1;
  for (uint32_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
    uint32_t e = c->index[i];
    if (!e || strcmp(c->ents[e - 1].name, name) == 0) return &c->index[i];
  }
}

static int find_entry(const TfxCheckpoint *c, const char *name) {
  if (!c || !name || !c->index) return -1;
  uint32_t e = *slot_of(c, name);
  return e ? (int)e - 1 : -1;
}

static void index_grow(TfxCheckpoint *c) {
  uint32_t cap = c->index_cap ? c->index_cap * 2 : 64;
  free(c->index);
  c->index = calloc(cap, sizeof *c->index);
  if (!c->index) abort();
  c->index_cap = cap;
  for (int i = 0; i < c->n_ents; i++) *slot_of(c, c->ents[i].name) = (uint32_t)i + 1;
}

/* Append an entry (taking ownership of name and a copied t.data). */
static void add_entry(TfxCheckpoint *c, char *name, const TfxTensor *t, int file, bool copied) {
  if (c->n_ents == c->cap_ents) {
    c->cap_ents = c->cap_ents ? c->cap_ents * 2 : 64;
    c->ents = realloc(c->ents, (size_t)c->cap_ents * sizeof *c->ents);
    if (!c->ents) abort();
  }
  c->ents[c->n_ents] = (StEntry){.name = name, .t = *t, .file = file, .copied = copied};
  c->n_ents++;
  if ((uint64_t)c->n_ents * 2 > c->index_cap) {
    index_grow(c);
  } else {
    *slot_of(c, name) = (uint32_t)c->n_ents;
  }
}

/* ---- files ----------------------------------------------------------------- */

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) abort();
  return p;
}

static char *join_path(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) abort();
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

/* Folder part of path ("." when it has none). */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return xstrdup(".");
  if (slash == path) return xstrdup("/");
  char *p = xstrdup(path);
  p[slash - path] = 0;
  return p;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Map f->path whole and read-only into f. */
static TfxStatus map_file(StFile *f, TfxDiag *d) {
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tfx_error(d, "%s: cannot open: %s", f->path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return tfx_error(d, "%s: not a regular file", f->path);
  }
  if (st.st_size < 8) {
    close(fd);
    return tfx_error(d, "%s: %lld bytes: too short for a safetensors file (8-byte header length)",
                     f->path, (long long)st.st_size);
  }
  if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
    close(fd);
    return tfx_error(d, "%s: file too large to map", f->path);
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) return tfx_error(d, "%s: cannot map: %s", f->path, strerror(e));
  f->base = p;
  f->size = (size_t)st.st_size;
  return TFX_OK;
}

/* ---- one safetensors file ---------------------------------------------------
 *
 *   file   := u64le N, header (N bytes of JSON), data
 *   header := { name: { "dtype": DT, "shape": [int >= 0, ...],
 *                       "data_offsets": [begin, end] }, ...,
 *               "__metadata__": { str: str } }          (optional, ignored)
 *
 * Offsets are relative to the data section; end - begin is exactly the
 * tensor's bytes; tensors do not overlap. */

static const struct {
  const char *name;
  TfxDtype dt; /* TFX_UNDEF: a safetensors dtype tfxc does not support */
} st_dtypes[] = {
    {"F32", TFX_F32},     {"F16", TFX_F16},     {"BF16", TFX_BF16},    {"F64", TFX_F64},
    {"I64", TFX_I64},     {"I32", TFX_I32},     {"I16", TFX_I16},      {"I8", TFX_I8},
    {"U8", TFX_U8},       {"U16", TFX_U16},     {"U32", TFX_U32},      {"U64", TFX_U64},
    {"BOOL", TFX_BOOL},   {"F8_E4M3", TFX_UNDEF}, {"F8_E5M2", TFX_UNDEF}, {"F8_E8M0", TFX_UNDEF},
    {"F6_E2M3", TFX_UNDEF}, {"F6_E3M2", TFX_UNDEF}, {"F4", TFX_UNDEF},
};

/* A tensor as read from the header, before overlap checks. */
typedef struct {
  const char *name; /* points into the JSON */
  TfxTensor t;
  uint64_t begin, end;
  int order; /* position in the header */
} StRaw;

static int cmp_raw_offsets(const void *a, const void *b) {
  const StRaw *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_raw_order(const void *a, const void *b) {
  const StRaw *x = a, *y = b;
  return (x->order > y->order) - (x->order < y->order);
}

/* Validate one header entry into r; report and return TFX_ERR on the first
 * problem with it. */
static TfxStatus parse_entry(const char *file, const char *name, json_t *v, uint64_t data_size,
                             StRaw *r, TfxDiag *d) {
  char nb[ST_SHOW + 4];
  const char *sn = show(name, nb);
  if (!json_is_object(v))
    return tfx_error(d, "%s: tensor '%s': header entry is not a JSON object", file, sn);
  json_t *jdt = json_object_get(v, "dtype"), *jshape = json_object_get(v, "shape"),
         *joff = json_object_get(v, "data_offsets");
  if (!json_is_string(jdt))
    return tfx_error(d, "%s: tensor '%s': \"dtype\" is %s", file, sn,
                     jdt ? "not a string" : "missing");
  if (!json_is_array(jshape))
    return tfx_error(d, "%s: tensor '%s': \"shape\" is %s", file, sn,
                     jshape ? "not an array" : "missing");
  if (!json_is_array(joff))
    return tfx_error(d, "%s: tensor '%s': \"data_offsets\" is %s", file, sn,
                     joff ? "not an array" : "missing");

  const char *dts = json_string_value(jdt);
  int k = 0, n_dt = (int)(sizeof st_dtypes / sizeof st_dtypes[0]);
  while (k < n_dt && strcmp(st_dtypes[k].name, dts) != 0) k++;
  char db[ST_SHOW + 4];
  if (k == n_dt) return tfx_error(d, "%s: tensor '%s': unknown dtype '%s'", file, sn, show(dts, db));
  if (st_dtypes[k].dt == TFX_UNDEF)
    return tfx_error(d,
                     "%s: tensor '%s': dtype %s is not supported (F32 F16 BF16 F64 I64 I32 I16 I8 "
                     "U8 U16 U32 U64 BOOL are)",
                     file, sn, dts);
  memset(r, 0, sizeof *r);
  r->name = name;
  r->t.dtype = st_dtypes[k].dt;
  size_t esize = tfx_dtype_bytes(r->t.dtype);

  size_t rank = json_array_size(jshape);
  if (rank > TFX_MAX_RANK)
    return tfx_error(d, "%s: tensor '%s': rank %zu is over the maximum %d", file, sn, rank,
                     TFX_MAX_RANK);
  r->t.rank = (int)rank;
  /* The product of the non-zero dims must fit, so that numel and byte counts
   * computed in any order never overflow. */
  uint64_t prod = 1, zero = 0;
  for (size_t i = 0; i < rank; i++) {
    json_t *jd = json_array_get(jshape, i);
    if (!json_is_integer(jd))
      return tfx_error(d, "%s: tensor '%s': shape[%zu] is not an integer", file, sn, i);
    json_int_t dim = json_integer_value(jd);
    if (dim < 0)
      return tfx_error(d, "%s: tensor '%s': shape[%zu] = %lld is negative", file, sn, i,
                       (long long)dim);
    if (dim == 0) {
      zero = 1;
    } else if (prod > ((uint64_t)INT64_MAX / esize) / (uint64_t)dim) {
      return tfx_error(d, "%s: tensor '%s': shape overflows (element count too large)", file, sn);
    } else {
      prod *= (uint64_t)dim;
    }
    r->t.dims[i] = dim;
  }
  uint64_t nbytes = zero ? 0 : prod * esize;

  if (json_array_size(joff) != 2)
    return tfx_error(d, "%s: tensor '%s': \"data_offsets\" has %zu entries, not 2", file, sn,
                     json_array_size(joff));
  json_t *jb = json_array_get(joff, 0), *je = json_array_get(joff, 1);
  if (!json_is_integer(jb) || !json_is_integer(je))
    return tfx_error(d, "%s: tensor '%s': \"data_offsets\" are not integers", file, sn);
  json_int_t b = json_integer_value(jb), e = json_integer_value(je);
  if (b < 0 || e < 0)
    return tfx_error(d, "%s: tensor '%s': negative data_offsets [%lld, %lld]", file, sn,
                     (long long)b, (long long)e);
  if (b > e)
    return tfx_error(d, "%s: tensor '%s': data_offsets [%lld, %lld] begin after end", file, sn,
                     (long long)b, (long long)e);
  if ((uint64_t)e > data_size)
    return tfx_error(d,
                     "%s: tensor '%s': data_offsets [%lld, %lld] outside the data section "
                     "(%llu bytes)",
                     file, sn, (long long)b, (long long)e, (unsigned long long)data_size);
  if ((uint64_t)(e - b) != nbytes)
    return tfx_error(d,
                     "%s: tensor '%s': data_offsets [%lld, %lld] hold %lld bytes, but %s x %llu "
                     "elements need %llu",
                     file, sn, (long long)b, (long long)e, (long long)(e - b),
                     tfx_dtype_name(r->t.dtype), (unsigned long long)(zero ? 0 : prod),
                     (unsigned long long)nbytes);
  r->begin = (uint64_t)b;
  r->end = (uint64_t)e;
  return TFX_OK;
}

/* jansson names the repeated key in its message: "... near '"key"'". */
static void report_json_error(const char *file, const char *what, const json_error_t *je,
                              TfxDiag *d) {
  if (json_error_code(je) == json_error_duplicate_key) {
    const char *near = strstr(je->text, "near '");
    char key[ST_SHOW + 4] = "?";
    if (near) {
      near += 6;
      if (*near == '"') near++;
      size_t n = strlen(near);
      while (n && (near[n - 1] == '\'' || near[n - 1] == '"')) n--;
      if (n > ST_SHOW) n = ST_SHOW;
      char raw[ST_SHOW + 1];
      memcpy(raw, near, n);
      raw[n] = 0;
      show(raw, key);
    }
    tfx_error(d, "%s: tensor '%s': duplicate name in the %s", file, key, what);
    return;
  }
  tfx_error(d, "%s: %s is not valid JSON: %s (line %d, column %d)", file, what, je->text, je->line,
            je->column);
}

/* Map, parse and validate file c->files[fi]; add its tensors to c.  Tensors
 * already in c (from another shard) are duplicates.  Returns TFX_ERR if
 * anything in the file is wrong (every problem reported). */
static TfxStatus load_file(TfxCheckpoint *c, int fi, TfxDiag *d) {
  StFile *f = &c->files[fi];
  if (map_file(f, d)) return TFX_ERR;
  const unsigned char *p = f->base;
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
  if (n > ST_MAX_HEADER)
    return tfx_error(d, "%s: header length %llu is over the %u MiB limit", f->path,
                     (unsigned long long)n, ST_MAX_HEADER >> 20);
  if (n > f->size - 8)
    return tfx_error(d, "%s: header length %llu runs past the end of the file (%zu bytes)", f->path,
                     (unsigned long long)n, f->size);
  uint64_t data_size = f->size - 8 - n;
  const char *data = (const char *)p + 8 + n;

  json_error_t je;
  json_t *h = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
  if (!h) {
    report_json_error(f->path, "header", &je, d);
    return TFX_ERR;
  }
  TfxStatus st = TFX_OK;
  if (!json_is_object(h)) {
    st = tfx_error(d, "%s: header is not a JSON object", f->path);
    json_decref(h);
    return st;
  }

  StRaw *raw = calloc(json_object_size(h) + 1, sizeof *raw);
  if (!raw) abort();
  int n_raw = 0;
  const char *key;
  json_t *v;
  json_object_foreach(h, key, v) {
    if (strcmp(key, "__metadata__") == 0) {
      /* Ignored, but must be what the format says: an object of strings. */
      if (!json_is_object(v)) {
        st = tfx_error(d, "%s: \"__metadata__\" is not a JSON object", f->path);
        continue;
      }
      const char *mk;
      json_t *mv;
      json_object_foreach(v, mk, mv) {
        if (!json_is_string(mv)) {
          char kb[ST_SHOW + 4];
          st = tfx_error(d, "%s: \"__metadata__\" entry '%s' is not a string", f->path,
                         show(mk, kb));
        }
      }
      continue;
    }
    if (parse_entry(f->path, key, v, data_size, &raw[n_raw], d)) {
      st = TFX_ERR;
      continue;
    }
    raw[n_raw].order = n_raw;
    n_raw++;
  }

  /* Overlaps: sorted by begin, each non-empty tensor starts at or after the
   * furthest end seen so far. */
  qsort(raw, (size_t)n_raw, sizeof *raw, cmp_raw_offsets);
  int far = -1; /* the non-empty tensor reaching furthest so far */
  for (int i = 0; i < n_raw; i++) {
    if (raw[i].begin == raw[i].end) continue;
    if (far >= 0 && raw[i].begin < raw[far].end) {
      char b1[ST_SHOW + 4], b2[ST_SHOW + 4];
      st = tfx_error(d, "%s: tensor '%s': data [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
                     f->path, show(raw[i].name, b1), (unsigned long long)raw[i].begin,
                     (unsigned long long)raw[i].end, show(raw[far].name, b2),
                     (unsigned long long)raw[far].begin, (unsigned long long)raw[far].end);
    }
    if (far < 0 || raw[i].end > raw[far].end) far = i;
  }

  if (!st) {
    /* Back to header order so that names are listed as the file lists them. */
    qsort(raw, (size_t)n_raw, sizeof *raw, cmp_raw_order);
    for (int i = 0; i < n_raw; i++) {
      StRaw *r = &raw[i];
      int prev = find_entry(c, r->name);
      if (prev >= 0) {
        char b1[ST_SHOW + 4];
        st = tfx_error(d, "%s: tensor '%s': duplicate name (also in %s)", f->path,
                       show(r->name, b1), c->files[c->ents[prev].file].path);
        continue;
      }
      TfxTensor t = r->t;
      t.data = (void *)(data + r->begin);
      bool copied = false;
      size_t esize = tfx_dtype_bytes(t.dtype);
      if ((uintptr_t)t.data % esize != 0) {
        /* A view would be a misaligned pointer to its element type. */
        size_t bytes = (size_t)(r->end - r->begin);
        void *q = aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
        if (!q) abort();
        memcpy(q, t.data, bytes);
        t.data = q;
        copied = true;
      }
      add_entry(c, xstrdup(r->name), &t, fi, copied);
    }
  }
  free(raw);
  json_decref(h);
  return st;
}

/* ---- sharded checkpoints ----------------------------------------------------
 *
 *   index := { "metadata": {...} (optional, ignored),
 *              "weight_map": { tensor: shard file name } }
 *
 * Shard names are plain file names in the index's folder. */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static TfxStatus load_index(TfxCheckpoint *c, const char *path, TfxDiag *d) {
  json_error_t je;
  json_t *idx = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!idx) {
    if (json_error_code(&je) == json_error_cannot_open_file)
      return tfx_error(d, "%s: cannot open: %s", path, je.text);
    report_json_error(path, "index", &je, d);
    return TFX_ERR;
  }
  TfxStatus st = TFX_OK;
  json_t *wm = json_object_get(idx, "weight_map");
  json_t *meta = json_object_get(idx, "metadata");
  if (!json_is_object(idx)) {
    st = tfx_error(d, "%s: index is not a JSON object", path);
  } else if (!json_is_object(wm)) {
    st = tfx_error(d, "%s: \"weight_map\" is %s", path, wm ? "not an object" : "missing");
  } else if (meta && !json_is_object(meta)) {
    st = tfx_error(d, "%s: \"metadata\" is not an object", path);
  } else if (json_object_size(wm) == 0) {
    st = tfx_error(d, "%s: \"weight_map\" lists no tensors", path);
  }
  if (st) {
    json_decref(idx);
    return st;
  }

  /* Validate every shard name; collect the distinct ones, sorted. */
  const char **shards = calloc(json_object_size(wm), sizeof *shards);
  const char **refused = calloc(json_object_size(wm), sizeof *refused); /* reported once each */
  if (!shards || !refused) abort();
  int n_shards = 0, n_refused = 0;
  const char *key;
  json_t *v;
  json_object_foreach(wm, key, v) {
    char b1[ST_SHOW + 4], b2[ST_SHOW + 4];
    if (!json_is_string(v)) {
      st = tfx_error(d, "%s: tensor '%s': shard file name is not a string", path, show(key, b1));
      continue;
    }
    const char *s = json_string_value(v);
    if (!*s || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
      int k = 0;
      while (k < n_refused && strcmp(refused[k], s) != 0) k++;
      if (k == n_refused && n_refused < 16) {
        refused[n_refused++] = s;
        st = tfx_error(d,
                       "%s: tensor '%s': shard '%s' is not a plain file name in the index's folder",
                       path, show(key, b1), show(s, b2));
      }
      st = TFX_ERR;
      continue;
    }
    int k = 0;
    while (k < n_shards && strcmp(shards[k], s) != 0) k++;
    if (k == n_shards) shards[n_shards++] = s;
  }
  free(refused);
  if (st) {
    free(shards);
    json_decref(idx);
    return st;
  }
  qsort(shards, (size_t)n_shards, sizeof *shards, cmp_str);

  char *dir = dir_of(path);
  c->files = calloc((size_t)n_shards, sizeof *c->files);
  if (!c->files) abort();
  bool *bad = calloc((size_t)n_shards, sizeof *bad);
  if (!bad) abort();
  for (int k = 0; k < n_shards; k++) {
    StFile *f = &c->files[c->n_files++];
    f->path = join_path(dir, shards[k]);
    struct stat sst;
    const char *why = stat(f->path, &sst) != 0 ? strerror(errno)
                      : !S_ISREG(sst.st_mode)   ? "not a regular file"
                                                : NULL;
    if (why) {
      /* Name the first tensor mapped to the missing shard. */
      const char *first = "?";
      json_object_foreach(wm, key, v) {
        if (strcmp(json_string_value(v), shards[k]) == 0) {
          first = key;
          break;
        }
      }
      char b1[ST_SHOW + 4], b2[ST_SHOW + 4];
      st = tfx_error(d, "%s: tensor '%s': shard '%s' cannot be read: %s", path, show(first, b1),
                     show(shards[k], b2), why);
      bad[k] = true;
      continue;
    }
    if (load_file(c, k, d)) {
      st = TFX_ERR;
      bad[k] = true;
    }
  }

  /* Every mapped tensor is in the shard the index names. */
  json_object_foreach(wm, key, v) {
    const char *s = json_string_value(v);
    int k = (int)((const char **)bsearch(&s, shards, (size_t)n_shards, sizeof *shards, cmp_str) -
                  shards);
    if (bad[k]) continue;
    int e = find_entry(c, key);
    if (e < 0 || c->ents[e].file != k) {
      char b1[ST_SHOW + 4];
      st = tfx_error(d, "%s: tensor '%s': not in this shard, though %s maps it here",
                     c->files[k].path, show(key, b1), path);
    }
  }
  free(bad);
  free(dir);
  free(shards);
  json_decref(idx);
  return st;
}

/* ---- the API ---------------------------------------------------------------- */

TfxCheckpoint *tfx_checkpoint_open(const char *path, TfxDiag *d) {
  struct stat st;
  if (stat(path, &st) != 0) {
    tfx_error(d, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  char *file = NULL;
  if (S_ISDIR(st.st_mode)) {
    file = join_path(path, "model.safetensors");
    if (!is_file(file)) {
      free(file);
      file = join_path(path, "model.safetensors.index.json");
      if (!is_file(file)) {
        free(file);
        tfx_error(d, "%s: folder holds neither model.safetensors nor model.safetensors.index.json",
                  path);
        return NULL;
      }
    }
  } else {
    file = xstrdup(path);
  }

  TfxCheckpoint *c = calloc(1, sizeof *c);
  if (!c) abort();
  TfxStatus s;
  if (ends_with(file, ".json")) {
    s = load_index(c, file, d);
  } else {
    c->files = calloc(1, sizeof *c->files);
    if (!c->files) abort();
    c->files[0].path = xstrdup(file);
    c->n_files = 1;
    s = load_file(c, 0, d);
  }
  free(file);
  if (s) {
    tfx_checkpoint_close(c);
    return NULL;
  }
  if (!c->index) index_grow(c); /* an empty checkpoint still answers lookups */
  return c;
}

void tfx_checkpoint_close(TfxCheckpoint *c) {
  if (!c) return;
  for (int i = 0; i < c->n_ents; i++) {
    free(c->ents[i].name);
    if (c->ents[i].copied) free(c->ents[i].t.data);
  }
  for (int i = 0; i < c->n_files; i++) {
    if (c->files[i].base) munmap(c->files[i].base, c->files[i].size);
    free(c->files[i].path);
  }
  free(c->files);
  free(c->ents);
  free(c->index);
  free(c);
}

int tfx_checkpoint_count(const TfxCheckpoint *c) { return c ? c->n_ents : 0; }

const char *tfx_checkpoint_name(const TfxCheckpoint *c, int i) {
  return c && i >= 0 && i < c->n_ents ? c->ents[i].name : NULL;
}

const TfxTensor *tfx_checkpoint_get(const TfxCheckpoint *c, const char *name) {
  int e = find_entry(c, name);
  return e >= 0 ? &c->ents[e].t : NULL;
}

const char *tfx_checkpoint_file_of(const TfxCheckpoint *c, const char *name) {
  int e = find_entry(c, name);
  return e >= 0 ? c->files[c->ents[e].file].path : NULL;
}
