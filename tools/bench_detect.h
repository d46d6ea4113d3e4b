/* bench_detect.h — `emo bench detect` (tools/bench_detect.c), called from the
 * `emo bench` table in tools/cmd_bench.c. */
#ifndef EMO_BENCH_DETECT_H
#define EMO_BENCH_DETECT_H
int bench_detect(int argc, char **argv);
#endif
