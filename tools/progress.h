/* progress.h — one progress display on stderr for long CLI jobs (training
 * epochs, video files).
 *
 *   progress_start(total, "epoch 3/30");
 *   for (i = 0; i < total; i++) { work(); progress_update(i + 1); }
 *   progress_end();
 *
 * On a terminal: a bar redrawn in place at most 10 times a second, with the
 * count, the rate per second and the ETA ("epoch 3/30 [#####.....] 1200/4456
 * 38.2/s ETA 1m25s"). Otherwise (a log file, a pipe): a plain line every
 * progress_interval seconds (30 by default), so logs stay readable.
 * progress_info sets a short text shown after the ETA (e.g. "loss 1.234").
 * One display at a time per process; not thread-safe. total <= 0 means
 * unknown (count and rate, no bar or ETA). */
#ifndef EMO_PROGRESS_H
#define EMO_PROGRESS_H

#include <stdbool.h>

void progress_start(long long total, const char *label);
void progress_update(long long done);
void progress_info(const char *text);
/* Prints one line of its own (a warning, an error) above the bar, which is
 * redrawn under it on a terminal. */
void progress_note(const char *line);
/* Clears the bar (terminal) or prints a last line with the elapsed time. */
void progress_end(void);
/* Seconds between plain lines when stderr is not a terminal (default 30). */
void progress_interval(double seconds);
/* Forces or forbids the terminal display (default: isatty(stderr)). */
void progress_set_tty(bool tty);
/* Formats seconds as "45s", "3m07s", "2h05m" into buf (at least 16 bytes). */
const char *progress_format_duration(double seconds, char *buf, int cap);

#endif
