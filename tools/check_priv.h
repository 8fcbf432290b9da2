/* check_priv.h — what the files of `tfxc check` share: small process and
 * file helpers (check_util.c), the options, data sets and comparison
 * (check_compare.c) and the programs that drive variable-length
 * and decoder artefacts (check_driver.c). */
#ifndef TFX_CHECK_PRIV_H
#define TFX_CHECK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

/* Exit status of the --decode driver when the outputs were written but an
 * entry point mishandled a bad argument. */
enum { DRIVER_BOUNDS = 3 };

typedef struct {
  double rtol, atol;
  bool rtol_set, atol_set; /* given on the command line: applies to every dtype */
  bool reference, verbose;
  const char *keep; /* folder to keep the generated files in, or NULL */
  const char *cc;   /* compiler command (may hold flags), or NULL for $CC / cc */
  const char *name; /* C name of the generated model */
  int timeout;      /* seconds the compiled program may run */
  bool decode;      /* --decode */
  char *max_sym;    /* --max SYM=N: the symbol (NULL with --decode --max N, or no --max) */
  int64_t max_n;    /* --max: N, or -1 */
  int threads;      /* --threads: the generated code runs on this many threads */
  TfxCpu cpu;       /* --cpu (default auto: the --cc flags decide) */
} CheckOptions;

/* Largest errors seen over all compared float elements. */
typedef struct {
  double max_abs, max_rel;
} CheckErr;

/* A data set's tensors: inputs in file order, expected outputs likewise. */
typedef struct {
  TfxTensor *t;
  char **names;
  char **paths;
  int n;
} TensorList;

/* ---- check_compare.c ---- */
void tensors_free(TensorList *l);
/* Read dir/<prefix>_0.pb, _1.pb ... up to the first missing one. */
TfxStatus tensors_read(const char *dir, const char *prefix, TensorList *l, TfxDiag *d);
/* Compare got with exp (o's tolerances, err's largest errors updated); on
 * mismatch write the reason into why. */
bool compare(const TfxTensor *got, const TfxTensor *exp, const char *what, const CheckOptions *o, CheckErr *err,
             char *why, size_t whylen);

/* ---- check_util.c ---- */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool is_file(const char *path);
bool is_dir(const char *path);
bool diag_unsupported(const TfxDiag *d);
void diag_first_line(const TfxDiag *d, char *buf, size_t size);
void shape_text(char *buf, size_t size, int rank, const int64_t *dims);
void declared_shape_text(char *buf, size_t size, const TfxGraph *g, const TfxValue *v);
void remove_tree(const char *dir);
int mkdir_p(const char *path);
void dump_log(const char *path);
int run_cmd(char *const *argv, const char *dir, const char *log, int timeout_s);
char **list_datasets(const char *dir, int *count);
/* Print a command line (for -v). */
void print_cmd(char *const *argv);
/* First line of a log that starts with "error: ", without that prefix. */
bool log_error_line(const char *path, char *buf, size_t size);
/* A tensor's bytes to a file, for the drivers. */
bool write_raw(const char *path, const void *data, size_t bytes);
/* Read exactly t's bytes (dtype and dims set) from a file into malloc'd data. */
bool read_raw(const char *path, TfxTensor *t, char *why, size_t whylen);

/* ---- check_driver.c ---- */
/* threads > 1: the model was compiled with --threads; the driver runs it on that many. */
bool write_max_driver(const char *path, const char *name, int threads, const TfxGraph *g, const char *sym,
                      int64_t max_n);
bool write_decode_driver(const char *path, const char *name, int threads, int64_t max_n, int64_t vocab);

#endif
