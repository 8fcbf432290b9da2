/* check_util.c — small helpers of `tfxc check`: formatted strings, files
 * and folders, running a program with a time limit and reading its log,
 * listing data sets, the drivers' raw tensor files, and the diagnostics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/check_priv.h"

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) {
    fprintf(stderr, "tfxc check: out of memory\n");
    abort();
  }
  va_end(ap);
  return s;
}

bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Messages that mean "tfxc cannot do this" rather than "tfxc got it wrong". */
bool diag_unsupported(const TfxDiag *d) {
  if (!d->text) return false;
  for (const char *p = d->text; *p; p++) {
    static const char *const keys[] = {"unsupported", "not supported", "does not support",
                                       "supports dense tensors only", "unknown op"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (strncasecmp(p, keys[k], strlen(keys[k])) == 0) return true;
  }
  return false;
}

/* First line of the diag, for the one-line summary. */
void diag_first_line(const TfxDiag *d, char *buf, size_t size) {
  const char *t = d->text ? d->text : "(no message)";
  size_t n = strcspn(t, "\n");
  if (n >= size) n = size - 1;
  memcpy(buf, t, n);
  buf[n] = 0;
}

void shape_text(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < rank && n < size; k++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", k ? "," : "", (long long)dims[k]);
  if (n < size) snprintf(buf + n, size - n, "]");
}

/* A graph input's declared shape, symbols by name ("[batch,3]"), "?" unknown. */
void declared_shape_text(char *buf, size_t size, const TfxGraph *g, const TfxValue *v) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < v->rank && n < size; k++) {
    const char *sep = k ? "," : "";
    if (v->dim_sym[k])
      n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, g->syms[v->dim_sym[k] - 1].name);
    else if (v->dims[k] < 0)
      n += (size_t)snprintf(buf + n, size - n, "%s?", sep);
    else
      n += (size_t)snprintf(buf + n, size - n, "%s%lld", sep, (long long)v->dims[k]);
  }
  if (n < size) snprintf(buf + n, size - n, "]");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int mkdir_p(const char *path) {
  char *p = xasprintf("%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) break;
    *s = '/';
  }
  int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
  free(p);
  return rc;
}

/* Print a file's text (a compiler's or program's messages) to stderr, up to
 * a limit so a flood of errors stays readable. */
void dump_log(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[4096];
  size_t n, total = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && total < 64 * 1024) {
    fwrite(buf, 1, n, stderr);
    total += n;
  }
  if (n > 0) fprintf(stderr, "... (%s truncated)\n", path);
  fclose(f);
}

/* Run argv in dir with stdout and stderr going to log.  Returns the exit
 * status, 128+N when killed by signal N (SIGALRM when over timeout_s), 127
 * when the program could not be started. */
int run_cmd(char *const *argv, const char *dir, const char *log, int timeout_s) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    setpgid(0, 0); /* its own group, so a timeout also ends what it started */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    if (dir && chdir(dir) != 0) _exit(127);
    if (timeout_s > 0) alarm((unsigned)timeout_s); /* survives exec */
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 127;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    kill(-pid, SIGKILL);
    return 128 + WTERMSIG(status);
  }
  return 127;
}

/* ---- case data ----------------------------------------------------------- */

static int ds_number(const char *name) { return atoi(name + strlen("test_data_set_")); }

static int ds_cmp(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  int nx = ds_number(x), ny = ds_number(y);
  return nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
}

/* test_data_set_* folder names under dir, sorted by number. */
char **list_datasets(const char *dir, int *count) {
  DIR *d = opendir(dir);
  char **names = NULL;
  int n = 0, cap = 0;
  *count = 0;
  if (!d) return NULL;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "test_data_set_", 14) != 0) continue;
    char *p = xasprintf("%s/%s", dir, e->d_name);
    bool ok = is_dir(p);
    free(p);
    if (!ok) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      names = realloc(names, sizeof *names * (size_t)cap);
      if (!names) abort();
    }
    names[n++] = xasprintf("%s", e->d_name);
  }
  closedir(d);
  if (n) qsort(names, (size_t)n, sizeof *names, ds_cmp);
  *count = n;
  return names;
}

/* Print a command line (for -v). */
void print_cmd(char *const *argv) {
  fprintf(stderr, "  $");
  for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
  fprintf(stderr, "\n");
}

/* First line of a log that starts with "error: ", without that prefix. */
bool log_error_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, "error: ", 7) != 0) continue;
    line[strcspn(line, "\n")] = 0;
    snprintf(buf, size, "%s", line + 7);
    found = true;
  }
  fclose(f);
  return found;
}

/* A tensor's bytes to a file, for the drivers. */
bool write_raw(const char *path, const void *data, size_t bytes) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = !bytes || fwrite(data, 1, bytes, f) == bytes;
  return fclose(f) == 0 && ok;
}

/* Read exactly t's bytes (dtype and dims set) from a file into malloc'd data. */
bool read_raw(const char *path, TfxTensor *t, char *why, size_t whylen) {
  size_t bytes = tfx_tensor_bytes(t);
  t->data = malloc(bytes ? bytes : 1);
  if (!t->data) abort();
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, whylen, "cannot read the program's output %s: %s", path, strerror(errno));
    return false;
  }
  size_t got = bytes ? fread(t->data, 1, bytes, f) : 0;
  bool extra = fgetc(f) != EOF;
  fclose(f);
  if (got != bytes || extra) {
    snprintf(why, whylen, "the program's output %s has the wrong size (expected %zu bytes)", path, bytes);
    return false;
  }
  return true;
}
