/* onnx_unpack.c — unpacking a mapped ModelProto without copying its weights.
 * protobuf-c copies every bytes field out of the buffer it parses, and the
 * initialisers' raw_data is nearly all of a model file.  So the model is
 * unpacked in parts: the ModelProto without its graph, the GraphProto
 * without its initialisers, and each initialiser without raw_data, which is
 * then set to point into the mapping.  Splitting a message into its fields
 * needs only the wire format's tags and lengths; protobuf-c still decodes
 * and checks every field.  A message concatenated from some of its fields,
 * in order, decodes to the message less those fields. */
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_priv.h"

typedef struct {
  const uint8_t *p;
  size_t n;
} Span;

/* Fields of one message kept for protobuf-c, copied into a scratch buffer. */
typedef struct {
  uint8_t *buf;
  size_t len, cap;
} Kept;

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* The field at *p: its number, the whole field, and a length-delimited
 * field's payload (n = 0 otherwise).  False on anything but the four wire
 * types of ONNX files, or a field running past end. */
static bool next_field(const uint8_t **p, const uint8_t *end, uint32_t *num, Span *whole, Span *payload) {
  const uint8_t *start = *p;
  uint64_t tag, len = 0;
  if (!read_varint(p, end, &tag)) return false;
  *num = (uint32_t)(tag >> 3);
  *payload = (Span){NULL, 0};
  switch (tag & 7) {
  case 0:
    if (!read_varint(p, end, &len)) return false;
    len = 0;
    break;
  case 1: len = 8; break;
  case 5: len = 4; break;
  case 2:
    if (!read_varint(p, end, &len)) return false;
    *payload = (Span){*p, (size_t)len};
    break;
  default: return false; /* groups: never written by ONNX */
  }
  if (len > (uint64_t)(end - *p)) return false;
  *p += len;
  *whole = (Span){start, (size_t)(*p - start)};
  return true;
}

static void keep_span(Kept *k, Span s) {
  if (k->len + s.n > k->cap) {
    size_t cap = k->cap ? k->cap : 4096;
    while (cap < k->len + s.n) cap *= 2;
    uint8_t *b = realloc(k->buf, cap);
    if (!b) abort();
    k->buf = b;
    k->cap = cap;
  }
  memcpy(k->buf + k->len, s.p, s.n);
  k->len += s.n;
}

static uint32_t field_id(const ProtobufCMessageDescriptor *d, const char *name) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
  return f ? f->id : 0;
}

/* Copy the fields of msg other than length-delimited field `skip` into k;
 * the payloads of the skipped fields go to out (when not NULL), the number
 * of them to *n_skipped and the last one to *last.  False when msg is not
 * well formed. */
static bool split(Span msg, uint32_t skip, Kept *k, Span *out, size_t *n_skipped, Span *last) {
  const uint8_t *p = msg.p, *end = msg.p + msg.n;
  k->len = 0;
  *n_skipped = 0;
  while (p < end) {
    uint32_t num;
    Span whole, payload;
    if (!next_field(&p, end, &num, &whole, &payload)) return false;
    if (num == skip && payload.p) {
      if (out) out[*n_skipped] = payload;
      ++*n_skipped;
      *last = payload;
    } else {
      keep_span(k, whole);
    }
  }
  return true;
}

/* One initialiser: its other fields unpacked, raw_data a view (the last
 * raw_data field wins, as when protobuf-c reads it). */
static Onnx__TensorProto *unpack_tensor(Span msg, uint32_t raw_id, Kept *k) {
  size_t n_raw;
  Span raw = {NULL, 0};
  if (!split(msg, raw_id, k, NULL, &n_raw, &raw)) return NULL;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, k->len, k->buf);
  if (tp && n_raw) {
    tp->has_raw_data = 1;
    tp->raw_data.data = (uint8_t *)raw.p;
    tp->raw_data.len = raw.n;
  }
  return tp;
}

/* Drop the views before protobuf-c frees what it allocated. */
static void free_graph(Onnx__GraphProto *gp) {
  for (size_t i = 0; gp && i < gp->n_initializer; i++) {
    gp->initializer[i]->raw_data.data = NULL;
    gp->initializer[i]->raw_data.len = 0;
  }
  onnx__graph_proto__free_unpacked(gp, NULL);
}

/* The graph with its initialisers attached; NULL when any part fails. */
static Onnx__GraphProto *unpack_graph(Span msg, Kept *k) {
  uint32_t init_id = field_id(&onnx__graph_proto__descriptor, "initializer");
  uint32_t raw_id = field_id(&onnx__tensor_proto__descriptor, "raw_data");
  size_t n;
  Span last = {NULL, 0};
  if (!init_id || !raw_id || !split(msg, init_id, k, NULL, &n, &last)) return NULL;
  Span *inits = malloc((n + 1) * sizeof *inits);
  if (!inits) abort();
  split(msg, init_id, k, inits, &n, &last);
  Onnx__GraphProto *gp = onnx__graph_proto__unpack(NULL, k->len, k->buf);
  if (gp) {
    gp->initializer = calloc(n + 1, sizeof *gp->initializer);
    if (!gp->initializer) abort();
  }
  for (size_t i = 0; gp && i < n; i++) {
    Onnx__TensorProto *tp = unpack_tensor(inits[i], raw_id, k);
    if (!tp) {
      free_graph(gp);
      gp = NULL;
    } else {
      gp->initializer[gp->n_initializer++] = tp;
    }
  }
  free(inits);
  return gp;
}

Onnx__ModelProto *tfx_onnx_unpack_views(const void *base, size_t size) {
  uint32_t graph_id = field_id(&onnx__model_proto__descriptor, "graph");
  Kept k = {0};
  Span graph = {NULL, 0};
  size_t n_graph;
  Onnx__ModelProto *m = NULL;
  /* a graph given twice merges (protobuf rules): left to the plain unpack */
  if (graph_id && split((Span){base, size}, graph_id, &k, NULL, &n_graph, &graph) && n_graph <= 1) {
    m = onnx__model_proto__unpack(NULL, k.len, k.buf);
    if (m && n_graph && !(m->graph = unpack_graph(graph, &k))) {
      onnx__model_proto__free_unpacked(m, NULL);
      m = NULL;
    }
  }
  free(k.buf);
  return m;
}

void tfx_onnx_free_views(Onnx__ModelProto *m) {
  if (!m) return;
  free_graph(m->graph);
  m->graph = NULL;
  onnx__model_proto__free_unpacked(m, NULL);
}
