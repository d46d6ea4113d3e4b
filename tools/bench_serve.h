/* bench_serve.h — `emo bench serve` (tools/serve/bench.c). */
#ifndef EMO_BENCH_SERVE_H
#define EMO_BENCH_SERVE_H
int bench_serve(int argc, char **argv);
#endif
