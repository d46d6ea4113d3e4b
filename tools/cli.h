/* cli.h — shared by the CLI's command files: option parsing and messages.
 * Each command is `int cmd_NAME(int argc, char **argv)` (argv[0] = name) and
 * returns the process exit status: 0 ok, 1 failure, 2 usage error. */
#ifndef EMO_CLI_H
#define EMO_CLI_H

#include "emo.h"
#include <stdbool.h>
#include <stdio.h>

/* One option of a command. `arg` names the value ("N", "PATH") or is NULL for
 * a flag. Parsed into *out_str (char *), *out_int (int), *out_float (float),
 * or *out_flag (bool): exactly one of them is set. */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 for none */
    const char *arg;
    const char *help;
    const char **out_str;
    int *out_int;
    float *out_float;
    bool *out_flag;
} cli_opt;

/* Parses argv against opts; positional arguments are compacted to the front of
 * argv[1..] and counted in *npos. `--help` prints usage and returns 1 (caller
 * exits 0); a bad option prints usage to stderr and returns 2. 0 when ok. */
int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage, const char *about, int *npos);
void cli_usage(FILE *f, const char *cmd, const cli_opt *opts, const char *usage, const char *about);
/* "emo NAME: message: emo_last_error()" on stderr; returns 1. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define CLI_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CLI_MAX(a, b) ((a) > (b) ? (a) : (b))

/* --precision, the same on every command that runs a network. */
#define CLI_PRECISION_HELP "conv arithmetic: auto (bf16 where the CPU has AMX-BF16 or AVX512-BF16, else fp32; default), fp32, bf16"
#define CLI_PRECISION_OPT(ptr) {"precision", 0, "auto|fp32|bf16", CLI_PRECISION_HELP, .out_str = (ptr)}
/* Resolves a --precision value to EMO_PRECISION_FP32 or _BF16: auto picks;
 * bf16 on a CPU without it, or an unknown word, prints why and returns -1. */
int cli_precision(const char *cmd, const char *value, emo_precision *out);

/* Parses "640x480"; false if malformed. */
bool cli_parse_size(const char *s, int *w, int *h);

#endif
