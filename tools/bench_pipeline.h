/* bench_pipeline.h — `emo bench pipeline` (tools/bench_pipeline.c). */
#ifndef EMO_BENCH_PIPELINE_H
#define EMO_BENCH_PIPELINE_H
int bench_pipeline(int argc, char **argv);
#endif
