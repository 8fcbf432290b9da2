/* check_compare.c — `tfxc check`'s reading of a data set's .pb tensors and
 * its comparison of outputs with the expected ones (tolerances per dtype). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "tools/check_priv.h"

void tensors_free(TensorList *l) {
  for (int k = 0; k < l->n; k++) {
    tfx_tensor_free_data(&l->t[k]);
    free(l->names[k]);
    free(l->paths[k]);
  }
  free(l->t);
  free(l->names);
  free(l->paths);
  memset(l, 0, sizeof *l);
}

/* Read dir/<prefix>_0.pb, _1.pb ... up to the first missing one. */
TfxStatus tensors_read(const char *dir, const char *prefix, TensorList *l, TfxDiag *d) {
  memset(l, 0, sizeof *l);
  for (int k = 0;; k++) {
    char *path = xasprintf("%s/%s_%d.pb", dir, prefix, k);
    if (!is_file(path)) {
      free(path);
      return TFX_OK;
    }
    l->t = realloc(l->t, sizeof *l->t * (size_t)(k + 1));
    l->names = realloc(l->names, sizeof *l->names * (size_t)(k + 1));
    l->paths = realloc(l->paths, sizeof *l->paths * (size_t)(k + 1));
    if (!l->t || !l->names || !l->paths) abort();
    memset(&l->t[k], 0, sizeof l->t[k]);
    l->names[k] = NULL;
    l->paths[k] = path;
    l->n = k + 1;
    if (tfx_tensorproto_read(path, &l->t[k], &l->names[k], d)) return TFX_ERR;
    if (!l->names[k]) l->names[k] = xasprintf("%s", "");
  }
}

/* ---- comparison ---------------------------------------------------------- */

static void index_text(char *buf, size_t size, const TfxTensor *t, int64_t flat) {
  int64_t idx[TFX_MAX_RANK];
  tfx_unravel(flat, t->rank, t->dims, idx);
  shape_text(buf, size, t->rank, idx);
}

static void elem_text(char *buf, size_t size, const TfxTensor *t, int64_t i) {
  if (tfx_dtype_is_float(t->dtype))
    snprintf(buf, size, t->dtype == TFX_F64 ? "%.17g" : "%.9g", tfx_tensor_get_f64(t, i));
  else if (t->dtype == TFX_U64)
    snprintf(buf, size, "%llu", (unsigned long long)((const uint64_t *)t->data)[i]);
  else
    snprintf(buf, size, "%lld", (long long)tfx_tensor_get_i64(t, i));
}

/* Compare got with exp; on mismatch write the reason into why. */
bool compare(const TfxTensor *got, const TfxTensor *exp, const char *what,
                    const CheckOptions *o, CheckErr *err, char *why, size_t whylen) {
  char a[256], b[256];
  if (got->dtype != exp->dtype) {
    snprintf(why, whylen, "%s: dtype %s, expected %s", what, tfx_dtype_name(got->dtype),
             tfx_dtype_name(exp->dtype));
    return false;
  }
  bool same = got->rank == exp->rank;
  for (int k = 0; same && k < got->rank; k++) same = got->dims[k] == exp->dims[k];
  if (!same) {
    shape_text(a, sizeof a, got->rank, got->dims);
    shape_text(b, sizeof b, exp->rank, exp->dims);
    snprintf(why, whylen, "%s: shape %s, expected %s", what, a, b);
    return false;
  }
  int64_t n = tfx_tensor_numel(exp), bad = 0, worst = -1;
  double worst_excess = -1;
  bool is_float = tfx_dtype_is_float(exp->dtype);
  /* The float32 defaults are finer than a half-precision step: for float16
   * and bfloat16 outputs the default allows two units in the last place. */
  double rtol = o->rtol, atol = o->atol;
  if (!o->rtol_set && exp->dtype == TFX_F16) rtol = 0x1p-9;
  if (!o->rtol_set && exp->dtype == TFX_BF16) rtol = 0x1p-6;
  if (!o->atol_set && (exp->dtype == TFX_F16 || exp->dtype == TFX_BF16)) atol = 1e-5;
  size_t es = tfx_dtype_bytes(exp->dtype);
  for (int64_t i = 0; i < n; i++) {
    double excess;
    if (is_float) {
      double e = tfx_tensor_get_f64(exp, i), g = tfx_tensor_get_f64(got, i);
      if (isnan(e) || isinf(e)) {
        if ((isnan(e) && isnan(g)) || g == e) continue;
        excess = INFINITY;
      } else if (!isfinite(g)) {
        excess = INFINITY;
      } else {
        double d = fabs(g - e);
        if (d > err->max_abs) err->max_abs = d;
        if (e != 0 && d / fabs(e) > err->max_rel) err->max_rel = d / fabs(e);
        excess = d - (atol + rtol * fabs(e));
        if (excess <= 0) continue;
      }
    } else {
      if (memcmp((const char *)got->data + (size_t)i * es, (const char *)exp->data + (size_t)i * es,
                 es) == 0)
        continue;
      excess = INFINITY;
    }
    bad++;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (!bad) return true;
  char idx[256];
  index_text(idx, sizeof idx, exp, worst);
  elem_text(a, sizeof a, got, worst);
  elem_text(b, sizeof b, exp, worst);
  snprintf(why, whylen, "%s: %lld of %lld elements differ, worst at %s (flat %lld): got %s, expected %s",
           what, (long long)bad, (long long)n, idx, (long long)worst, a, b);
  return false;
}
