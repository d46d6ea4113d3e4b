/* train_util.h — classification metrics shared by `emo train` (validation)
 * and `emo eval`: accuracy, per-class precision/recall/F1 and macro-F1 from a
 * confusion matrix. Header-only (static inline): two small users. */
#ifndef EMO_TRAIN_UTIL_H
#define EMO_TRAIN_UTIL_H

#include "emo.h"

/* Index of the largest of v[0..k). */
static inline int train_argmax(const float *v, int k) {
    int best = 0;
    for (int i = 1; i < k; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

#define TRAIN_MAX_CLASSES 256

typedef struct train_metrics {
    long long n;        /* rows counted */
    double accuracy;    /* trace / n */
    double macro_f1;    /* mean F1 over classes that have rows or predictions */
    double precision[TRAIN_MAX_CLASSES], recall[TRAIN_MAX_CLASSES], f1[TRAIN_MAX_CLASSES];
    long long support[TRAIN_MAX_CLASSES]; /* true rows per class */
} train_metrics;

/* conf is (k, k) row-major: rows = true class, columns = predicted.
 * A class with no predictions has precision 0, with no rows recall 0
 * (as scikit-learn's zero_division=0); macro-F1 averages the classes that
 * occur as a true label or a prediction. */
static inline void train_metrics_compute(const long long *conf, int k, train_metrics *m) {
    long long n = 0, diag = 0;
    double f1sum = 0;
    int used = 0;
    for (int i = 0; i < k; i++) {
        long long row = 0, col = 0;
        for (int j = 0; j < k; j++) {
            row += conf[(long long)i * k + j];
            col += conf[(long long)j * k + i];
        }
        long long tp = conf[(long long)i * k + i];
        n += row;
        diag += tp;
        m->support[i] = row;
        m->precision[i] = col ? (double)tp / (double)col : 0;
        m->recall[i] = row ? (double)tp / (double)row : 0;
        double pr = m->precision[i] + m->recall[i];
        m->f1[i] = pr > 0 ? 2 * m->precision[i] * m->recall[i] / pr : 0;
        if (row || col) {
            f1sum += m->f1[i];
            used++;
        }
    }
    m->n = n;
    m->accuracy = n ? (double)diag / (double)n : 0;
    m->macro_f1 = used ? f1sum / used : 0;
}

#endif
