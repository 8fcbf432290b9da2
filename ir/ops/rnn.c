/* rnn.c — recurrent layers: RNN, GRU and LSTM (forward, reverse and
 * bidirectional, activations with alpha/beta, clip, sequence_lens, initial
 * states, peepholes, input_forget, linear_before_reset, both layouts).
 * Every (direction, batch row) is an independent recurrence, so both the
 * evaluator and generated code run one row at a time with the state of that
 * row (hidden, cell, gate pre-activations) in small local arrays.  All
 * arithmetic is in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define NODE(n) ((TfxNode *)(n)) /* tfx_node_error takes a mutable node */

typedef enum {
  ACT_RELU,
  ACT_TANH,
  ACT_SIGMOID,
  ACT_AFFINE,
  ACT_LEAKY_RELU,
  ACT_THRESHOLDED_RELU,
  ACT_SCALED_TANH,
  ACT_HARD_SIGMOID,
  ACT_ELU,
  ACT_SOFTSIGN,
  ACT_SOFTPLUS,
} RnnActKind;

typedef struct {
  RnnActKind kind;
  double alpha, beta;
} RnnAct;

/* Inputs by position. */
enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };

typedef struct {
  int gates;            /* 1 RNN, 3 GRU (z r h), 4 LSTM (i o f c) */
  int n_act;            /* activations per direction */
  int D;                /* directions */
  bool reverse_only;    /* direction == "reverse" */
  int64_t T, B, I, H;   /* sequence, batch, input, hidden */
  int layout;
  RnnAct act[2][3];     /* per direction */
  bool has_clip;
  double clip;
  bool lbr;             /* GRU linear_before_reset */
  bool input_forget;    /* LSTM */
  bool has_b, has_seq, has_h0, has_c0, has_p;
  bool out_y, out_h, out_c;
} RnnSpec;

static bool in_present(const TfxNode *n, int k) { return k < n->n_inputs && n->inputs[k] != TFX_NONE; }
static bool out_present(const TfxNode *n, int k) { return k < n->n_outputs && n->outputs[k] != TFX_NONE; }

static const struct {
  const char *name;
  RnnActKind kind;
  int uses; /* 0 none, 1 alpha, 2 alpha and beta */
  double da, db;
} act_table[] = {
    {"relu", ACT_RELU, 0, 0, 0},
    {"tanh", ACT_TANH, 0, 0, 0},
    {"sigmoid", ACT_SIGMOID, 0, 0, 0},
    {"affine", ACT_AFFINE, 2, 1.0, 0.0},
    {"leakyrelu", ACT_LEAKY_RELU, 1, 0.01, 0},
    {"thresholdedrelu", ACT_THRESHOLDED_RELU, 1, 1.0, 0},
    {"scaledtanh", ACT_SCALED_TANH, 2, 1.0, 1.0},
    {"hardsigmoid", ACT_HARD_SIGMOID, 2, 0.2, 0.5},
    {"elu", ACT_ELU, 1, 1.0, 0},
    {"softsign", ACT_SOFTSIGN, 0, 0, 0},
    {"softplus", ACT_SOFTPLUS, 0, 0, 0},
};

static int act_lookup(const char *s) {
  char low[32];
  size_t i = 0;
  for (; s[i] && i < sizeof low - 1; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  low[i] = 0;
  for (size_t k = 0; k < sizeof act_table / sizeof act_table[0]; k++)
    if (!strcmp(low, act_table[k].name)) return (int)k;
  return -1;
}

/* Activations: the attribute lists one set per direction (a single set is
 * reused for both directions); alphas and betas are consumed in order by the
 * functions that take them. */
static TfxStatus parse_acts(TfxGraph *g, const TfxNode *n, RnnSpec *s) {
  static const char *const dflt[3][3] = {
      {"Tanh", NULL, NULL}, {"Sigmoid", "Tanh", NULL}, {"Sigmoid", "Tanh", "Tanh"}};
  const char *const *def = dflt[s->gates == 1 ? 0 : s->gates == 3 ? 1 : 2];
  const TfxAttr *a = tfx_attr(n, "activations");
  const float *al = NULL, *be = NULL;
  int nal = tfx_attr_floats(n, "activation_alpha", &al), nbe = tfx_attr_floats(n, "activation_beta", &be);
  int ia = 0, ib = 0;
  int given = a ? a->n : 0;
  if (a && a->kind != TFX_ATTR_STRINGS) return tfx_node_error(g, NODE(n), "activations must be a list of strings");
  if (a && given != s->n_act && given != s->n_act * s->D)
    return tfx_node_error(g, NODE(n), "activations has %d entries, expected %d", given, s->n_act * s->D);
  for (int d = 0; d < s->D; d++)
    for (int k = 0; k < s->n_act; k++) {
      const char *name = a ? a->strings[given == s->n_act ? k : d * s->n_act + k] : def[k];
      int idx = act_lookup(name);
      if (idx < 0) return tfx_node_error(g, NODE(n), "unsupported activation '%s'", name);
      RnnAct *ra = &s->act[d][k];
      ra->kind = act_table[idx].kind;
      ra->alpha = act_table[idx].da, ra->beta = act_table[idx].db;
      if (act_table[idx].uses >= 1 && ia < nal) ra->alpha = al[ia++];
      if (act_table[idx].uses >= 2 && ib < nbe) ra->beta = be[ib++];
    }
  return TFX_OK;
}

static TfxStatus check_shape(TfxGraph *g, const TfxNode *n, const char *what, int rank,
                             const int64_t *dims, int want_rank, const int64_t *want) {
  bool ok = rank == want_rank;
  for (int i = 0; ok && i < rank; i++) ok = dims[i] == want[i];
  if (ok) return TFX_OK;
  char buf[128];
  size_t len = 0;
  for (int i = 0; i < want_rank; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", i ? ", " : "", (long long)want[i]);
  return tfx_node_error(g, NODE(n), "%s must have shape (%s)", what, buf);
}

/* The spec from the attributes and the input shapes (shape of input k:
 * rank[k], dims[k]; rank -1 when absent). */
static TfxStatus rnn_spec(TfxGraph *g, const TfxNode *n, const int *rank, int64_t (*dims)[TFX_MAX_RANK],
                          RnnSpec *s) {
  memset(s, 0, sizeof *s);
  s->gates = n->op == TFX_OP_RNN ? 1 : n->op == TFX_OP_GRU ? 3 : 4;
  s->n_act = n->op == TFX_OP_RNN ? 1 : n->op == TFX_OP_GRU ? 2 : 3;
  const char *dir = tfx_attr_string(n, "direction", "forward");
  if (!strcmp(dir, "forward")) s->D = 1;
  else if (!strcmp(dir, "reverse")) s->D = 1, s->reverse_only = true;
  else if (!strcmp(dir, "bidirectional")) s->D = 2;
  else return tfx_node_error(g, NODE(n), "unsupported direction '%s'", dir);
  s->layout = (int)tfx_attr_int(n, "layout", 0);
  if (s->layout != 0 && s->layout != 1) return tfx_node_error(g, NODE(n), "layout must be 0 or 1");
  const TfxAttr *clip = tfx_attr(n, "clip");
  if (clip) {
    s->has_clip = true, s->clip = clip->f;
    if (!(clip->f > 0)) return tfx_node_error(g, NODE(n), "clip must be positive");
  }
  s->lbr = n->op == TFX_OP_GRU && tfx_attr_int(n, "linear_before_reset", 0) != 0;
  s->input_forget = n->op == TFX_OP_LSTM && tfx_attr_int(n, "input_forget", 0) != 0;
  int max_in = n->op == TFX_OP_LSTM ? 8 : 6, max_out = n->op == TFX_OP_LSTM ? 3 : 2;
  if (n->n_inputs > max_in) return tfx_node_error(g, NODE(n), "at most %d inputs are defined", max_in);
  if (n->n_outputs > max_out) return tfx_node_error(g, NODE(n), "at most %d outputs are defined", max_out);
  if (rank[IN_X] < 0 || rank[IN_W] < 0 || rank[IN_R] < 0)
    return tfx_node_error(g, NODE(n), "inputs X, W and R are required");
  if (rank[IN_X] != 3) return tfx_node_error(g, NODE(n), "X must have rank 3");
  s->T = dims[IN_X][s->layout ? 1 : 0], s->B = dims[IN_X][s->layout ? 0 : 1], s->I = dims[IN_X][2];
  if (rank[IN_R] != 3) return tfx_node_error(g, NODE(n), "R must have rank 3");
  s->H = dims[IN_R][2];
  int64_t hs = tfx_attr_int(n, "hidden_size", s->H);
  if (hs != s->H)
    return tfx_node_error(g, NODE(n), "hidden_size %lld does not match R (%lld)", (long long)hs, (long long)s->H);
  if (s->H < 1) return tfx_node_error(g, NODE(n), "hidden_size must be positive");
  int64_t GH = s->gates * s->H;
  int64_t w[3] = {s->D, GH, s->I}, r[3] = {s->D, GH, s->H};
  if (check_shape(g, n, "W", rank[IN_W], dims[IN_W], 3, w) ||
      check_shape(g, n, "R", rank[IN_R], dims[IN_R], 3, r))
    return TFX_ERR;
  int64_t b[2] = {s->D, 2 * GH}, sl[1] = {s->B}, p[2] = {s->D, 3 * s->H};
  int64_t st[3] = {s->D, s->B, s->H};
  if (s->layout) st[0] = s->B, st[1] = s->D;
  s->has_b = rank[IN_B] >= 0, s->has_seq = rank[IN_SEQ] >= 0, s->has_h0 = rank[IN_H0] >= 0;
  s->has_c0 = n->op == TFX_OP_LSTM && rank[IN_C0] >= 0;
  s->has_p = n->op == TFX_OP_LSTM && rank[IN_P] >= 0;
  if ((s->has_b && check_shape(g, n, "B", rank[IN_B], dims[IN_B], 2, b)) ||
      (s->has_seq && check_shape(g, n, "sequence_lens", rank[IN_SEQ], dims[IN_SEQ], 1, sl)) ||
      (s->has_h0 && check_shape(g, n, "initial_h", rank[IN_H0], dims[IN_H0], 3, st)) ||
      (s->has_c0 && check_shape(g, n, "initial_c", rank[IN_C0], dims[IN_C0], 3, st)) ||
      (s->has_p && check_shape(g, n, "P", rank[IN_P], dims[IN_P], 2, p)))
    return TFX_ERR;
  s->out_y = out_present(n, 0), s->out_h = out_present(n, 1), s->out_c = out_present(n, 2);
  return parse_acts(g, n, s);
}

static TfxStatus spec_from_graph(TfxGraph *g, const TfxNode *n, RnnSpec *s) {
  int rank[8];
  int64_t dims[8][TFX_MAX_RANK];
  for (int k = 0; k < 8; k++) {
    TfxValue *v = in_present(n, k) ? tfx_node_in(g, n, k) : NULL;
    rank[k] = v ? v->rank : -1;
    if (v) memcpy(dims[k], v->dims, sizeof dims[k]);
  }
  return rnn_spec(g, n, rank, dims, s);
}

TfxStatus tfx_rnn_infer(TfxGraph *g, TfxNode *n) {
  RnnSpec s;
  if (spec_from_graph(g, n, &s)) return TFX_ERR;
  TfxDtype dt = tfx_node_in(g, n, IN_X)->dtype;
  if (!tfx_dtype_is_float(dt))
    return tfx_node_error(g, n, "input type %s is not supported (expected a float type)", tfx_dtype_name(dt));
  for (int k = 1; k < 8; k++) {
    if (k == IN_SEQ || !in_present(n, k)) continue;
    if (tfx_node_in(g, n, k)->dtype != dt)
      return tfx_node_error(g, n, "input %d must have the type of X (%s)", k, tfx_dtype_name(dt));
  }
  if (s.has_seq && !tfx_dtype_is_int(tfx_node_in(g, n, IN_SEQ)->dtype))
    return tfx_node_error(g, n, "sequence_lens must be an integer tensor");
  int64_t y[4] = {s.T, s.D, s.B, s.H}, st[3] = {s.D, s.B, s.H};
  if (s.layout) {
    y[0] = s.B, y[1] = s.T, y[2] = s.D;
    st[0] = s.B, st[1] = s.D;
  }
  tfx_node_set_out(g, n, 0, dt, 4, y);
  tfx_node_set_out(g, n, 1, dt, 3, st);
  tfx_node_set_out(g, n, 2, dt, 3, st);
  return TFX_OK;
}

/* ---- reference evaluator ---------------------------------------------------------- */

static double act_apply(const RnnAct *a, double v) {
  switch (a->kind) {
  case ACT_RELU: return v > 0 ? v : 0;
  case ACT_TANH: return tanh(v);
  case ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
  case ACT_AFFINE: return a->alpha * v + a->beta;
  case ACT_LEAKY_RELU: return v >= 0 ? v : a->alpha * v;
  case ACT_THRESHOLDED_RELU: return v > a->alpha ? v : 0;
  case ACT_SCALED_TANH: return a->alpha * tanh(a->beta * v);
  case ACT_HARD_SIGMOID: return fmax(0.0, fmin(1.0, a->alpha * v + a->beta));
  case ACT_ELU: return v >= 0 ? v : a->alpha * (exp(v) - 1);
  case ACT_SOFTSIGN: return v / (1 + fabs(v));
  case ACT_SOFTPLUS: return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
  }
  return v;
}

static double clipv(const RnnSpec *s, double v) {
  if (!s->has_clip) return v;
  return v < -s->clip ? -s->clip : v > s->clip ? s->clip : v;
}

/* Element offsets in the layout's X, Y and state tensors. */
static int64_t x_off(const RnnSpec *s, int64_t t, int64_t b) {
  return (s->layout ? b * s->T + t : t * s->B + b) * s->I;
}
static int64_t y_off(const RnnSpec *s, int64_t t, int d, int64_t b) {
  return (s->layout ? (b * s->T + t) * s->D + d : (t * s->D + d) * s->B + b) * s->H;
}
static int64_t st_off(const RnnSpec *s, int d, int64_t b) {
  return (s->layout ? b * s->D + d : d * s->B + b) * s->H;
}

TfxStatus tfx_rnn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  int rank[8];
  int64_t dims[8][TFX_MAX_RANK];
  for (int k = 0; k < 8; k++) {
    const TfxTensor *t = k < n->n_inputs ? in[k] : NULL;
    rank[k] = t ? t->rank : -1;
    if (t) memcpy(dims[k], t->dims, sizeof dims[k]);
  }
  RnnSpec s;
  if (rnn_spec(g, n, rank, dims, &s)) return TFX_ERR;
  const TfxTensor *X = in[IN_X], *W = in[IN_W], *R = in[IN_R];
  const TfxTensor *Bt = s.has_b ? in[IN_B] : NULL, *P = s.has_p ? in[IN_P] : NULL;
  int64_t H = s.H, G = s.gates, GH = G * H;
  double *h = calloc((size_t)(H * (G + 4)), sizeof *h);
  if (!h) return tfx_node_error(g, NODE(n), "out of memory");
  double *c = h + H, *hn = c + H, *rg = hn + H, *pre = rg + H;
  for (int d = 0; d < s.D; d++) {
    bool rev = s.reverse_only || d == 1;
    const RnnAct *fa = &s.act[d][0], *ga = &s.act[d][1], *ha = &s.act[d][2];
    for (int64_t b = 0; b < s.B; b++) {
      int64_t len = s.T;
      if (s.has_seq) {
        len = tfx_tensor_get_i64(in[IN_SEQ], b);
        if (len < 0 || len > s.T) {
          free(h);
          return tfx_node_error(g, NODE(n), "sequence_lens[%lld] = %lld is out of range [0, %lld]",
                                (long long)b, (long long)len, (long long)s.T);
        }
      }
      for (int64_t j = 0; j < H; j++) {
        h[j] = s.has_h0 ? tfx_tensor_get_f64(in[IN_H0], st_off(&s, d, b) + j) : 0;
        c[j] = s.has_c0 ? tfx_tensor_get_f64(in[IN_C0], st_off(&s, d, b) + j) : 0;
      }
      for (int64_t step = 0; step < len; step++) {
        int64_t t = rev ? len - 1 - step : step;
        /* pre[q] = W x + Wb + Rb, plus R h except for GRU's candidate gate */
        for (int64_t q = 0; q < GH; q++) {
          double a = 0;
          if (Bt) a = tfx_tensor_get_f64(Bt, d * 2 * GH + q) + tfx_tensor_get_f64(Bt, d * 2 * GH + GH + q);
          for (int64_t i = 0; i < s.I; i++)
            a += tfx_tensor_get_f64(W, (d * GH + q) * s.I + i) * tfx_tensor_get_f64(X, x_off(&s, t, b) + i);
          if (!(G == 3 && q >= 2 * H))
            for (int64_t k = 0; k < H; k++) a += tfx_tensor_get_f64(R, (d * GH + q) * H + k) * h[k];
          pre[q] = a;
        }
        if (G == 3)
          for (int64_t j = 0; j < H; j++) rg[j] = act_apply(fa, clipv(&s, pre[H + j]));
        for (int64_t j = 0; j < H; j++) {
          if (G == 1) {
            hn[j] = act_apply(fa, clipv(&s, pre[j]));
          } else if (G == 3) {
            /* candidate: Wh x + Wbh + (r . h) Rh + Rbh, or with linear_before_reset
             * Wh x + Wbh + r . (Rh h + Rbh); pre holds Wh x + Wbh + Rbh */
            double z = act_apply(fa, clipv(&s, pre[j]));
            double rbh = Bt ? tfx_tensor_get_f64(Bt, d * 2 * GH + GH + 2 * H + j) : 0, acc = 0;
            int64_t row = (d * GH + 2 * H + j) * H;
            if (s.lbr) {
              for (int64_t k = 0; k < H; k++) acc += tfx_tensor_get_f64(R, row + k) * h[k];
              acc = pre[2 * H + j] - rbh + rg[j] * (acc + rbh);
            } else {
              for (int64_t k = 0; k < H; k++) acc += tfx_tensor_get_f64(R, row + k) * (rg[k] * h[k]);
              acc += pre[2 * H + j];
            }
            double hh = act_apply(ga, clipv(&s, acc));
            hn[j] = (1 - z) * hh + z * h[j];
          } else {
            double pi = P ? tfx_tensor_get_f64(P, d * 3 * H + j) : 0;
            double po = P ? tfx_tensor_get_f64(P, d * 3 * H + H + j) : 0;
            double pf = P ? tfx_tensor_get_f64(P, d * 3 * H + 2 * H + j) : 0;
            double ig = act_apply(fa, clipv(&s, pre[j] + pi * c[j]));
            double fg = s.input_forget ? 1 - ig : act_apply(fa, clipv(&s, pre[2 * H + j] + pf * c[j]));
            double cc = act_apply(ga, clipv(&s, pre[3 * H + j]));
            double cn = fg * c[j] + ig * cc;
            double og = act_apply(fa, clipv(&s, pre[H + j] + po * cn));
            hn[j] = og * act_apply(ha, cn);
            c[j] = cn;
          }
        }
        memcpy(h, hn, sizeof(double) * (size_t)H);
        if (s.out_y)
          for (int64_t j = 0; j < H; j++) tfx_tensor_set_f64(&out[0], y_off(&s, t, d, b) + j, h[j]);
      }
      /* steps past the sequence length are zero in Y; a row with no steps
       * reports a zero state */
      if (s.out_y)
        for (int64_t t = len; t < s.T; t++)
          for (int64_t j = 0; j < H; j++) tfx_tensor_set_f64(&out[0], y_off(&s, t, d, b) + j, 0);
      for (int64_t j = 0; j < H; j++) {
        if (s.out_h) tfx_tensor_set_f64(&out[1], st_off(&s, d, b) + j, len ? h[j] : 0);
        if (s.out_c) tfx_tensor_set_f64(&out[2], st_off(&s, d, b) + j, len ? c[j] : 0);
      }
    }
  }
  free(h);
  return TFX_OK;
}

/* ---- C emission ------------------------------------------------------------------- */

/* Print `dst = act(clip(src));` evaluating src once. */
static void emit_gate(TfxCEmit *e, const RnnSpec *s, const RnnAct *a, const char *dst, const char *src) {
  char l1[64], l2[64];
  tfx_c_line(e, "{");
  tfx_c_indent(e, 1);
  tfx_c_line(e, "double v = %s;", src);
  if (s->has_clip) {
    tfx_c_double(l1, -s->clip), tfx_c_double(l2, s->clip);
    tfx_c_line(e, "v = v < %s ? %s : v > %s ? %s : v;", l1, l1, l2, l2);
  }
  tfx_c_double(l1, a->alpha), tfx_c_double(l2, a->beta);
  switch (a->kind) {
  case ACT_RELU: tfx_c_line(e, "%s = v > 0.0 ? v : 0.0;", dst); break;
  case ACT_TANH: tfx_c_line(e, "%s = tanh(v);", dst); break;
  case ACT_SIGMOID: tfx_c_line(e, "%s = 1.0 / (1.0 + exp(-v));", dst); break;
  case ACT_AFFINE: tfx_c_line(e, "%s = %s * v + %s;", dst, l1, l2); break;
  case ACT_LEAKY_RELU: tfx_c_line(e, "%s = v >= 0.0 ? v : %s * v;", dst, l1); break;
  case ACT_THRESHOLDED_RELU: tfx_c_line(e, "%s = v > %s ? v : 0.0;", dst, l1); break;
  case ACT_SCALED_TANH: tfx_c_line(e, "%s = %s * tanh(%s * v);", dst, l1, l2); break;
  case ACT_HARD_SIGMOID: tfx_c_line(e, "%s = fmax(0.0, fmin(1.0, %s * v + %s));", dst, l1, l2); break;
  case ACT_ELU: tfx_c_line(e, "%s = v >= 0.0 ? v : %s * (exp(v) - 1.0);", dst, l1); break;
  case ACT_SOFTSIGN: tfx_c_line(e, "%s = v / (1.0 + fabs(v));", dst); break;
  case ACT_SOFTPLUS: tfx_c_line(e, "%s = v > 0.0 ? v + log1p(exp(-v)) : log1p(exp(v));", dst); break;
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

/* Expression of element [idx] of input k as a double, into buf (>= 256). */
static const char *ld(TfxCEmit *e, TfxGraph *g, const TfxNode *n, int k, const char *idx, char *buf) {
  char ex[512];
  snprintf(ex, sizeof ex, "%s[%s]", tfx_c_var(e, n->inputs[k]), idx);
  char tmp[256];
  tfx_c_load(e, tfx_node_in(g, n, k)->dtype, ex, tmp);
  snprintf(buf, 256, "(double)%s", tmp);
  return buf;
}

static void emit_dir(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const RnnSpec *s, int d) {
  bool rev = s->reverse_only || d == 1;
  int64_t H = s->H, G = s->gates, GH = G * H, T = s->T, B = s->B, I = s->I;
  TfxDtype dt = tfx_node_in(g, n, IN_X)->dtype;
  const RnnAct *fa = &s->act[d][0], *ga = &s->act[d][1], *ha = &s->act[d][2];
  char ix[256], l1[256], l2[256], l3[256], ex[512];
  tfx_c_line(e, "/* direction %d: %s */", d, rev ? "reverse" : "forward");
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++) {", (long long)B);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "double h[%lld], hn[%lld], pre[%lld];", (long long)H, (long long)H, (long long)GH);
  if (G == 4) tfx_c_line(e, "double c[%lld];", (long long)H);
  if (G == 3) tfx_c_line(e, "double rg[%lld];", (long long)H);
  if (s->has_seq) {
    snprintf(ix, sizeof ix, "b");
    tfx_c_line(e, "int64_t len = (int64_t)%s[b];", tfx_c_var(e, n->inputs[IN_SEQ]));
    tfx_c_line(e, "if (len < 0) len = 0;");
    tfx_c_line(e, "if (len > %lld) len = %lld;", (long long)T, (long long)T);
  } else {
    tfx_c_line(e, "const int64_t len = %lld;", (long long)T);
  }
  /* state offset of (d, b) in initial_h / Y_h */
  char so[128];
  if (s->layout) snprintf(so, sizeof so, "(b * %d + %d) * %lld", s->D, d, (long long)H);
  else snprintf(so, sizeof so, "(%d * %lld + b) * %lld", d, (long long)B, (long long)H);
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
  tfx_c_indent(e, 1);
  snprintf(ix, sizeof ix, "%s + j", so);
  if (s->has_h0) tfx_c_line(e, "h[j] = %s;", ld(e, g, n, IN_H0, ix, l1));
  else tfx_c_line(e, "h[j] = 0.0;");
  if (G == 4) {
    if (s->has_c0) tfx_c_line(e, "c[j] = %s;", ld(e, g, n, IN_C0, ix, l1));
    else tfx_c_line(e, "c[j] = 0.0;");
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_line(e, "for (int64_t step = 0; step < len; step++) {");
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const int64_t t = %s;", rev ? "len - 1 - step" : "step");
  if (s->layout) tfx_c_line(e, "const int64_t xo = (b * %lld + t) * %lld;", (long long)T, (long long)I);
  else tfx_c_line(e, "const int64_t xo = (t * %lld + b) * %lld;", (long long)B, (long long)I);
  /* gate pre-activations: W x + Wb + Rb (+ R h) */
  int64_t with_r = G == 3 ? 2 * H : GH;
  for (int part = 0; part < (G == 3 ? 2 : 1); part++) {
    int64_t q0 = part ? 2 * H : 0, q1 = part ? GH : with_r;
    tfx_c_line(e, "for (int64_t q = %lld; q < %lld; q++) {", (long long)q0, (long long)q1);
    tfx_c_indent(e, 1);
    if (s->has_b) {
      snprintf(ix, sizeof ix, "%lld + q", (long long)(d * 2 * GH));
      ld(e, g, n, IN_B, ix, l1);
      snprintf(ix, sizeof ix, "%lld + q", (long long)(d * 2 * GH + GH));
      tfx_c_line(e, "double a = %s + %s;", l1, ld(e, g, n, IN_B, ix, l2));
    } else {
      tfx_c_line(e, "double a = 0.0;");
    }
    snprintf(ix, sizeof ix, "(%lld + q) * %lld + i", (long long)(d * GH), (long long)I);
    ld(e, g, n, IN_W, ix, l1);
    tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) a += %s * %s;", (long long)I, l1,
               ld(e, g, n, IN_X, "xo + i", l2));
    if (!part) {
      snprintf(ix, sizeof ix, "(%lld + q) * %lld + k", (long long)(d * GH), (long long)H);
      tfx_c_line(e, "for (int64_t k = 0; k < %lld; k++) a += %s * h[k];", (long long)H, ld(e, g, n, IN_R, ix, l1));
    }
    tfx_c_line(e, "pre[q] = a;");
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  if (G == 3) {
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++)", (long long)H);
    tfx_c_indent(e, 1);
    snprintf(ex, sizeof ex, "pre[%lld + j]", (long long)H);
    emit_gate(e, s, fa, "rg[j]", ex);
    tfx_c_indent(e, -1);
  }
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
  tfx_c_indent(e, 1);
  if (G == 1) {
    emit_gate(e, s, fa, "hn[j]", "pre[j]");
  } else if (G == 3) {
    tfx_c_line(e, "double z, hh, acc = 0.0;");
    emit_gate(e, s, fa, "z", "pre[j]");
    snprintf(ix, sizeof ix, "(%lld + j) * %lld + k", (long long)(d * GH + 2 * H), (long long)H);
    ld(e, g, n, IN_R, ix, l1);
    if (s->lbr) {
      tfx_c_line(e, "for (int64_t k = 0; k < %lld; k++) acc += %s * h[k];", (long long)H, l1);
      if (s->has_b) {
        snprintf(ix, sizeof ix, "%lld + j", (long long)(d * 2 * GH + GH + 2 * H));
        tfx_c_line(e, "const double rbh = %s;", ld(e, g, n, IN_B, ix, l2));
      } else {
        tfx_c_line(e, "const double rbh = 0.0;");
      }
      tfx_c_line(e, "acc = pre[%lld + j] - rbh + rg[j] * (acc + rbh);", (long long)(2 * H));
    } else {
      tfx_c_line(e, "for (int64_t k = 0; k < %lld; k++) acc += %s * (rg[k] * h[k]);", (long long)H, l1);
      tfx_c_line(e, "acc += pre[%lld + j];", (long long)(2 * H));
    }
    emit_gate(e, s, ga, "hh", "acc");
    tfx_c_line(e, "hn[j] = (1.0 - z) * hh + z * h[j];");
  } else {
    tfx_c_line(e, "double ig, fg, cc, og, hc;");
    const char *pe[3] = {"0.0", "0.0", "0.0"};
    char pb[3][256];
    if (s->has_p)
      for (int k = 0; k < 3; k++) {
        snprintf(ix, sizeof ix, "%lld + j", (long long)(d * 3 * H + k * H));
        pe[k] = ld(e, g, n, IN_P, ix, pb[k]);
      }
    snprintf(ex, sizeof ex, s->has_p ? "pre[j] + %s * c[j]" : "pre[j]", pe[0]);
    emit_gate(e, s, fa, "ig", ex);
    if (s->input_forget) tfx_c_line(e, "fg = 1.0 - ig;");
    else {
      snprintf(ex, sizeof ex, s->has_p ? "pre[%lld + j] + %s * c[j]" : "pre[%lld + j]", (long long)(2 * H), pe[2]);
      emit_gate(e, s, fa, "fg", ex);
    }
    snprintf(ex, sizeof ex, "pre[%lld + j]", (long long)(3 * H));
    emit_gate(e, s, ga, "cc", ex);
    tfx_c_line(e, "c[j] = fg * c[j] + ig * cc;");
    snprintf(ex, sizeof ex, s->has_p ? "pre[%lld + j] + %s * c[j]" : "pre[%lld + j]", (long long)H, pe[1]);
    emit_gate(e, s, fa, "og", ex);
    emit_gate(e, s, ha, "hc", "c[j]");
    tfx_c_line(e, "hn[j] = og * hc;");
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_line(e, "memcpy(h, hn, sizeof h);");
  char yo[128];
  if (s->layout) snprintf(yo, sizeof yo, "((b * %lld + t) * %d + %d) * %lld", (long long)T, s->D, d, (long long)H);
  else snprintf(yo, sizeof yo, "((t * %d + %d) * %lld + b) * %lld", s->D, d, (long long)B, (long long)H);
  if (s->out_y) {
    snprintf(ex, sizeof ex, "%s[%s + j]", tfx_c_var(e, n->outputs[0]), yo);
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
    tfx_c_indent(e, 1);
    snprintf(l3, sizeof l3, "(%s)h[j]", tfx_c_calctype(dt));
    tfx_c_store(e, dt, ex, l3);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  if (s->out_y && s->has_seq) {
    tfx_c_line(e, "for (int64_t t = len; t < %lld; t++)", (long long)T);
    tfx_c_line(e, "  for (int64_t j = 0; j < %lld; j++) %s[%s + j] = 0;", (long long)H,
               tfx_c_var(e, n->outputs[0]), yo);
  }
  for (int k = 1; k <= 2; k++) {
    if (!(k == 1 ? s->out_h : s->out_c)) continue;
    snprintf(ex, sizeof ex, "%s[%s + j]", tfx_c_var(e, n->outputs[k]), so);
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
    tfx_c_indent(e, 1);
    snprintf(l3, sizeof l3, "(%s)(len ? %s[j] : 0.0)", tfx_c_calctype(dt), k == 1 ? "h" : "c");
    tfx_c_store(e, dt, ex, l3);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

TfxStatus tfx_rnn_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  RnnSpec s;
  if (spec_from_graph(g, n, &s)) return TFX_ERR;
  /* per batch row the state lives in local arrays: keep them small */
  int64_t bytes = (int64_t)sizeof(double) * s.H * (s.gates + 4);
  if (bytes > (int64_t)1 << 20)
    return tfx_node_error(g, NODE(n), "hidden_size %lld is too large for the C backend (state of %lld bytes per row)",
                          (long long)s.H, (long long)bytes);
  if (s.B == 0) return TFX_OK;
  tfx_c_line(e, "{ /* %s: seq %lld, batch %lld, input %lld, hidden %lld */", n->op_type, (long long)s.T,
             (long long)s.B, (long long)s.I, (long long)s.H);
  tfx_c_indent(e, 1);
  for (int d = 0; d < s.D; d++) emit_dir(e, g, n, &s, d);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}
