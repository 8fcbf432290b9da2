/* tfxc.c — the command-line driver: parses flags, runs import -> passes ->
 * backend, prints diagnostics, and picks the exit code.  It is the only part
 * of tfxc that prints to the terminal or exits. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tools/compile.h"

#ifndef TFX_VERSION
#define TFX_VERSION "0.0.0"
#endif

int tfx_check_main(int argc, char **argv);

static void usage(FILE *f) {
  fputs("usage: tfxc MODEL -o OUT.c [options]\n"
        "       tfxc check CASE_DIR [--rtol R] [--atol A] [--reference] [--max SYM=N] [--decode]\n"
        "                  [--keep DIR] [-v]\n"
        "\n"
        "Compiles an ONNX model into standalone C99 (OUT.c, OUT.h, and OUT.bin when\n"
        "weights go to a file).\n"
        "\n"
        "options:\n"
        "  -o, --output FILE.c     where to write the C source (required)\n"
        "      --name NAME         prefix of the generated API (default: from FILE)\n"
        "      --dim SYM=V         give the symbolic dimension SYM the value V (repeatable)\n"
        "      --max SYM=N         compile for every value of SYM from 1 to N: <name>_run\n"
        "                          takes it at run time; causal LMs also get\n"
        "                          <name>_prefill / _decode / _reset over a KV cache\n"
        "      --no-kv-cache       with --max: no KV cache, only <name>_run\n"
        "      --quantize-weights=int8|int4  quantisation of MatMul/Gemm weights\n"
        "                          (int8 per output channel; int4 per group along K),\n"
        "                          scales searched on calibration activations (AWQ),\n"
        "                          rounding errors compensated over them (GPTQ); their\n"
        "                          activations are quantised to int8 per block of 32\n"
        "      --float-activations keep those activations float32 (weights only)\n"
        "      --asymmetric        int4: a minimum per group too, the 16 levels spanning\n"
        "                          each group's range (default: symmetric about 0)\n"
        "      --no-gptq           round to nearest: no GPTQ error compensation\n"
        "      --group N           group size along K: 32, 64 or 128 (int4: 32 by\n"
        "                          default; int8: per output channel unless given)\n"
        "      --quantize-embeddings, --quantize-lm-head  also those (default: float32)\n"
        "      --quantize-kv=int8  decoders: the KV cache in int8 (scale per token and head)\n"
        "      --calib FILE        calibration token ids for the accuracy report\n"
        "      --report FILE       write the accuracy report (per layer and end to end)\n"
        "      --max-error E       budget, 1 - cosine of the outputs: layers that would\n"
        "                          exceed it go int4 -> int8, then float32\n"
        "      --weights MODE      embed | file | auto (default auto: file above 16 MiB)\n"
        "  -O LEVEL                optimisation level 0..3 (default 2)\n"
        "      --dump-after PASS   print the graph after PASS (toposort, fold, dce, identity,\n"
        "                          fuse-attention, fuse-gelu, all)\n"
        "      --emit-main         add a main() that reads input .pb files and writes outputs\n"
        "      --threads N         the code may run on up to N threads (pthreads; build with\n"
        "                          -pthread): <name>_set_threads picks 1..N (default 1)\n"
        "      --profile           time every node of a run (POSIX clock_gettime):\n"
        "                          <name>_profile, _profile_reset, _profile_print;\n"
        "                          --emit-main's program prints the time per operator\n"
        "      --cpu TARGET        the instruction set of the code: avx512vnni, avx512\n"
        "                          (AVX-512 F, BW, DQ, VL), avxvnni, avx2 (x86-64, AVX2\n"
        "                          and FMA), avx, generic (plain C), native (default:\n"
        "                          the best this machine has) or auto (the C compiler's\n"
        "                          flags decide); x86 code needs no -m flags, and\n"
        "                          <name>_init returns <NAME>_ERR_CPU without them\n"
        "  -h, --help              this text\n"
        "      --version           print the version\n"
        "\n"
        "check: compiles a case folder (model.onnx + test_data_set_*/input_K.pb,\n"
        "output_K.pb), builds it with the system C compiler, runs every data set and\n"
        "compares outputs; see 'tfxc check --help'.\n"
        "\n"
        "exit status: 0 success; 1 the model or an input is bad or unsupported, or\n"
        "outputs differ (check); 2 bad command line; 77 (check) the case uses\n"
        "something tfxc does not support.\n"
        "Errors are printed one per line as 'tfxc: FILE: node 'NAME' (OP): message'.\n",
        f);
}

static void print_diag(const TfxDiag *d) {
  if (!d->text) return;
  const char *p = d->text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    fprintf(stderr, "tfxc: %.*s\n", (int)n, p);
    p += n + (nl ? 1 : 0);
  }
}

static char *default_name(const char *out) {
  const char *b = strrchr(out, '/');
  b = b ? b + 1 : out;
  size_t n = strlen(b);
  if (n > 2 && strcmp(b + n - 2, ".c") == 0) n -= 2;
  char *s = malloc(n + 2);
  if (!s) abort();
  size_t j = 0;
  if (!n || isdigit((unsigned char)b[0])) s[j++] = 'm';
  for (size_t i = 0; i < n; i++) s[j++] = isalnum((unsigned char)b[i]) ? b[i] : '_';
  s[j] = 0;
  return s;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "check") == 0) return tfx_check_main(argc - 1, argv + 1);

  enum {
    OPT_NAME = 256, OPT_DIM, OPT_MAX, OPT_NOKV, OPT_WEIGHTS, OPT_DUMP, OPT_MAIN, OPT_VERSION,
    OPT_QW, OPT_GROUP, OPT_QEMB, OPT_QHEAD, OPT_QKV, OPT_MAXERR, OPT_CALIB, OPT_REPORT, OPT_NOGPTQ, OPT_FACTS,
    OPT_ASYM,
    OPT_THREADS, OPT_PROFILE, OPT_CPU
  };
  static const struct option longopts[] = {
      {"output", required_argument, 0, 'o'},  {"name", required_argument, 0, OPT_NAME},
      {"dim", required_argument, 0, OPT_DIM}, {"weights", required_argument, 0, OPT_WEIGHTS},
      {"max", required_argument, 0, OPT_MAX}, {"no-kv-cache", no_argument, 0, OPT_NOKV},
      {"quantize-weights", required_argument, 0, OPT_QW}, {"group", required_argument, 0, OPT_GROUP},
      {"quantize-embeddings", no_argument, 0, OPT_QEMB}, {"quantize-lm-head", no_argument, 0, OPT_QHEAD},
      {"quantize-kv", required_argument, 0, OPT_QKV}, {"max-error", required_argument, 0, OPT_MAXERR},
      {"calib", required_argument, 0, OPT_CALIB}, {"report", required_argument, 0, OPT_REPORT},
      {"no-gptq", no_argument, 0, OPT_NOGPTQ},
      {"float-activations", no_argument, 0, OPT_FACTS}, {"asymmetric", no_argument, 0, OPT_ASYM},
      {"dump-after", required_argument, 0, OPT_DUMP}, {"emit-main", no_argument, 0, OPT_MAIN},
      {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, OPT_VERSION},
      {"threads", required_argument, 0, OPT_THREADS}, {"profile", no_argument, 0, OPT_PROFILE},
      {"cpu", required_argument, 0, OPT_CPU},
      {0, 0, 0, 0}};
  const char *out = NULL, *name = NULL, *dump = NULL;
  TfxCompileRequest req = {.c = {.weights = TFX_WEIGHTS_AUTO, .cpu = tfx_cpu_native()}};
  TfxCOptions *copt = &req.c;
  int ndims = 0, level = 2, c;
  while ((c = getopt_long(argc, argv, "o:O:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case OPT_NAME: name = optarg; break;
    case OPT_DIM:
    case OPT_MAX: {
      const char *flag = c == OPT_DIM ? "--dim" : "--max";
      char *eq = strchr(optarg, '='), *end = NULL;
      if (!eq || eq == optarg || (c == OPT_DIM && ndims == TFX_MAX_BINDINGS)) {
        fprintf(stderr, "tfxc: %s expects SYM=VALUE, got '%s'\n", flag, optarg);
        return 2;
      }
      *eq = 0;
      long long v = strtoll(eq + 1, &end, 10);
      if (!*(eq + 1) || *end || v < (c == OPT_DIM ? 0 : 1)) {
        fprintf(stderr, "tfxc: %s %s: '%s' is not a %s integer\n", flag, optarg, eq + 1,
                c == OPT_DIM ? "non-negative" : "positive");
        return 2;
      }
      if (c == OPT_DIM) {
        req.dims[ndims++] = (TfxDimBinding){optarg, v};
      } else if (req.max.name) {
        fprintf(stderr, "tfxc: --max given twice ('%s' and '%s'): one run-time dimension is supported\n",
                req.max.name, optarg);
        return 2;
      } else {
        req.max = (TfxDimBinding){optarg, v};
      }
      break;
    }
    case OPT_NOKV: req.no_kv_cache = true; break;
    case OPT_QW:
      if (strcmp(optarg, "int8") == 0) req.quant.weight_bits = 8;
      else if (strcmp(optarg, "int4") == 0) req.quant.weight_bits = 4;
      else {
        fprintf(stderr, "tfxc: --quantize-weights must be int8 or int4, got '%s'\n", optarg);
        return 2;
      }
      break;
    case OPT_GROUP:
      if (strcmp(optarg, "32") && strcmp(optarg, "64") && strcmp(optarg, "128")) {
        fprintf(stderr, "tfxc: --group must be 32, 64 or 128, got '%s'\n", optarg);
        return 2;
      }
      req.quant.group = atoi(optarg);
      break;
    case OPT_QEMB: req.quant.embeddings = true; break;
    case OPT_QHEAD: req.quant.lm_head = true; break;
    case OPT_QKV:
      if (strcmp(optarg, "int8") != 0) {
        fprintf(stderr, "tfxc: --quantize-kv must be int8, got '%s'\n", optarg);
        return 2;
      }
      req.quant.kv_int8 = true;
      break;
    case OPT_MAXERR: {
      char *end = NULL;
      double e = strtod(optarg, &end);
      if (!*optarg || *end || !(e > 0 && e < 1)) {
        fprintf(stderr, "tfxc: --max-error is 1 - cosine, a number in (0, 1); got '%s'\n", optarg);
        return 2;
      }
      req.quant.max_error = e;
      break;
    }
    case OPT_CALIB: req.quant.calib = optarg; break;
    case OPT_REPORT: req.quant.report = optarg; break;
    case OPT_NOGPTQ: req.quant.no_gptq = true; break;
    case OPT_FACTS: req.quant.float_acts = true; break;
    case OPT_ASYM: req.quant.asym = true; break;
    case OPT_WEIGHTS:
      if (strcmp(optarg, "embed") == 0) copt->weights = TFX_WEIGHTS_EMBED;
      else if (strcmp(optarg, "file") == 0) copt->weights = TFX_WEIGHTS_FILE;
      else if (strcmp(optarg, "auto") == 0) copt->weights = TFX_WEIGHTS_AUTO;
      else {
        fprintf(stderr, "tfxc: --weights must be embed, file or auto, not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'O':
      if (optarg[0] < '0' || optarg[0] > '3' || optarg[1]) {
        fprintf(stderr, "tfxc: -O expects 0, 1, 2 or 3, not '%s'\n", optarg);
        return 2;
      }
      level = optarg[0] - '0';
      break;
    case OPT_DUMP:
      if (!tfx_pass_known(optarg)) {
        fprintf(stderr, "tfxc: --dump-after: no pass named '%s' (toposort, fold, dce, identity, fuse-attention, fuse-gelu, all)\n", optarg);
        return 2;
      }
      dump = optarg;
      break;
    case OPT_MAIN: copt->emit_main = true; break;
    case OPT_PROFILE: copt->profile = true; break;
    case OPT_CPU:
      if (!tfx_cpu_parse(optarg, &copt->cpu)) {
        fprintf(stderr, "tfxc: --cpu must be native, avx512vnni, avx512, avxvnni, avx2, avx, generic or auto, not '%s'\n", optarg);
        return 2;
      }
      break;
    case OPT_THREADS: {
      char *end = NULL;
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 1 || v > 256) {
        fprintf(stderr, "tfxc: --threads expects a number of threads from 1 to 256, got '%s'\n", optarg);
        return 2;
      }
      copt->threads = (int)v;
      break;
    }
    case 'h': usage(stdout); return 0;
    case OPT_VERSION: printf("tfxc %s\n", TFX_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind + 1 != argc || !out) {
    fprintf(stderr, optind >= argc ? "tfxc: no model given\n"
                    : optind + 1 < argc ? "tfxc: more than one model given\n"
                                        : "tfxc: no output given (-o OUT.c)\n");
    usage(stderr);
    return 2;
  }
  size_t ol = strlen(out);
  if (ol < 3 || strcmp(out + ol - 2, ".c") != 0) {
    fprintf(stderr, "tfxc: %s: the output must be a .c file\n", out);
    return 2;
  }
  char *dname = name ? NULL : default_name(out);
  copt->name = name ? name : dname;
  copt->out_c = out;

  TfxDiag d;
  tfx_diag_init(&d);
  req.model = argv[optind];
  req.n_dims = ndims;
  req.opt_level = level;
  req.dump_after = dump;
  req.dump_file = stdout;
  int rc = tfx_compile(&req, &d, NULL) ? 1 : 0;
  print_diag(&d);
  tfx_diag_deinit(&d);
  free(dname);
  return rc;
}
