/* bench_nn.h — `emo bench train`, `classify` and `peak` (tools/bench_nn.c),
 * called from the `emo bench` table in tools/cmd_bench.c. */
#ifndef EMO_BENCH_NN_H
#define EMO_BENCH_NN_H
int bench_nn_train(int argc, char **argv);
int bench_nn_classify(int argc, char **argv);
int bench_nn_peak(int argc, char **argv);
double bench_nn_peak_gflops(double seconds);
#endif
