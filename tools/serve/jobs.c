/* jobs.c — videos dropped on the page (POST /api/video): processed by a job
 * thread into an annotated MP4, a CSV row per face per frame and an emotion
 * timeline; the page polls GET /api/jobs/ID for progress and then fetches
 * /api/jobs/ID/video.mp4 and /api/jobs/ID/faces.csv.
 *
 * Files live in a private folder in /dev/shm (memory, not disk), since the
 * video reader and writer need paths; the folder goes when the server
 * stops, and a job's files when it is evicted (SERVE_MAX_JOBS kept). Job
 * ids are 128 random bits: one client cannot guess another's. One video is
 * processed at a time; another upload meanwhile gets 503. */
#include "serve.h"
#include "../results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_MAX_JOBS 4
#define TIMELINE_POINTS 600 /* the timeline sent to the page is binned to this */

typedef enum { JOB_UPLOADING, JOB_RUNNING, JOB_DONE, JOB_ERROR } job_state;

typedef struct serve_job {
    char id[33];
    job_state state;
    serve_settings s;
    char in_path[256], out_path[256];
    FILE *in; /* while uploading */
    long done, total, faces;
    double fps;
    char error[256];
    char *csv; /* the CSV, in memory */
    size_t csv_len;
    /* (frames, nclasses + 1): time, then the mean smoothed probabilities of
     * the frame's faces (NaN when it has none). */
    float *timeline;
    size_t tl_len, tl_cap;
    int nclasses;
    char classes[EMO_PIPELINE_MAX_CLASSES][32];
    pthread_t thread;
    bool joinable;
    unsigned long order; /* creation order, for eviction */
} serve_job;

typedef struct serve_jobs {
    char dir[64];
    pthread_mutex_t lock;
    serve_job *jobs[SERVE_MAX_JOBS];
    unsigned long created;
} serve_jobs;

static serve_jobs *jobs_get(server *sv) {
    if (sv->jobs) return sv->jobs;
    serve_jobs *js = calloc(1, sizeof *js);
    if (!js) return NULL;
    snprintf(js->dir, sizeof js->dir, "/dev/shm/emo-serve-XXXXXX");
    if (!mkdtemp(js->dir)) {
        /* No /dev/shm: the system's temporary folder. */
        const char *t = getenv("TMPDIR");
        snprintf(js->dir, sizeof js->dir, "%s/emo-serve-XXXXXX", t && *t && strlen(t) < 40 ? t : "/tmp");
        if (!mkdtemp(js->dir)) {
            free(js);
            return NULL;
        }
    }
    pthread_mutex_init(&js->lock, NULL);
    sv->jobs = js;
    return js;
}

static void job_free(serve_job *j) {
    if (!j) return;
    if (j->joinable) pthread_join(j->thread, NULL);
    if (j->in) fclose(j->in);
    unlink(j->in_path);
    unlink(j->out_path);
    free(j->csv);
    free(j->timeline);
    free(j);
}

static bool random_id(char out[33]) {
    uint8_t b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = read(fd, b, sizeof b) == (ssize_t)sizeof b;
    close(fd);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", b[i]);
    return ok;
}

int serve_job_create(server *sv, const serve_settings *s, serve_job **out) {
    *out = NULL;
    serve_jobs *js = jobs_get(sv);
    if (!js) return emo_fail(EMO_EIO, "cannot make a folder for videos: %s", strerror(errno));
    serve_job *j = calloc(1, sizeof *j);
    if (!j || !random_id(j->id)) {
        free(j);
        return emo_fail(EMO_ENOMEM, "cannot make a job id");
    }
    j->s = *s;
    snprintf(j->in_path, sizeof j->in_path, "%s/%s-in", js->dir, j->id);
    snprintf(j->out_path, sizeof j->out_path, "%s/%s.mp4", js->dir, j->id);
    pthread_mutex_lock(&js->lock);
    /* One video at a time; evict the oldest finished job when full. */
    int slot = -1, oldest = -1;
    for (int i = 0; i < SERVE_MAX_JOBS; i++) {
        serve_job *o = js->jobs[i];
        if (o && (o->state == JOB_UPLOADING || o->state == JOB_RUNNING)) {
            pthread_mutex_unlock(&js->lock);
            free(j);
            return emo_fail(EMO_EAGAIN, "a video is being processed already; try again when it is done");
        }
        if (!o && slot < 0) slot = i;
        if (o && (oldest < 0 || o->order < js->jobs[oldest]->order)) oldest = i;
    }
    serve_job *evicted = NULL;
    if (slot < 0) {
        slot = oldest;
        evicted = js->jobs[slot];
    }
    j->order = ++js->created;
    j->in = fopen(j->in_path, "wbx");
    if (!j->in) {
        int e = errno;
        pthread_mutex_unlock(&js->lock);
        free(j);
        return emo_fail(EMO_EIO, "cannot store the upload: %s", strerror(e));
    }
    js->jobs[slot] = j;
    pthread_mutex_unlock(&js->lock);
    job_free(evicted);
    *out = j;
    return EMO_OK;
}

int serve_job_write(serve_job *j, const void *data, size_t n) {
    if (fwrite(data, 1, n, j->in) != n) return emo_fail(EMO_EIO, "cannot store the upload: %s", strerror(errno));
    return EMO_OK;
}

static void job_fail(serve_jobs *js, serve_job *j, const char *msg) {
    pthread_mutex_lock(&js->lock);
    snprintf(j->error, sizeof j->error, "%s", msg);
    j->state = JOB_ERROR;
    pthread_mutex_unlock(&js->lock);
}

typedef struct job_run {
    server *sv;
    serve_job *j;
} job_run;

static void *job_main(void *arg) {
    job_run run = *(job_run *)arg;
    free(arg);
    server *sv = run.sv;
    serve_job *j = run.j;
    serve_jobs *js = sv->jobs;
    emo_video *v = NULL;
    emo_video_writer *w = NULL;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    emo_image frame = {0};
    emo_face faces[SERVE_MAX_FACES];
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *cf = open_memstream(&csv, &csv_len);
    char msg[256] = "";
    if (!cf) {
        snprintf(msg, sizeof msg, "out of memory");
        goto end;
    }
    if (emo_video_open(&v, j->in_path) != EMO_OK) {
        snprintf(msg, sizeof msg, "not a video this server can read: %s", emo_last_error());
        goto end;
    }
    const emo_video_info *vi = emo_video_get_info(v);
    if (serve_pipe_open(sv, &j->s, sv->threads, &pl) != EMO_OK || results_drawer_open(&dr, pl) != EMO_OK ||
        emo_video_writer_open(&w, j->out_path, vi->width, vi->height, vi->fps > 0 ? vi->fps : 25) != EMO_OK) {
        snprintf(msg, sizeof msg, "%s", emo_last_error());
        goto end;
    }
    const char *const *names = NULL;
    int nc = emo_pipeline_classes(pl, &names);
    pthread_mutex_lock(&js->lock);
    j->total = vi->frames;
    j->fps = vi->fps;
    j->nclasses = nc;
    for (int c = 0; c < nc; c++) snprintf(j->classes[c], sizeof j->classes[c], "%s", names[c]);
    pthread_mutex_unlock(&js->lock);
    results_csv_header(cf, names, nc);
    double t = 0;
    int r;
    long k = 0;
    while ((r = emo_video_read(v, &frame, 3, &t)) == EMO_OK) {
        if (atomic_load(&sv->stopping)) {
            snprintf(msg, sizeof msg, "server stopping");
            goto end;
        }
        if (frame.width != vi->width || frame.height != vi->height) {
            snprintf(msg, sizeof msg, "frame %ld changes size to %dx%d", k, frame.width, frame.height);
            goto end;
        }
        int n = emo_pipeline_process(pl, &frame, faces, SERVE_MAX_FACES);
        if (n < 0) {
            snprintf(msg, sizeof msg, "frame %ld: %s", k, emo_last_error());
            goto end;
        }
        n = EMO_MIN(n, SERVE_MAX_FACES);
        atomic_fetch_add(&sv->frames, 1);
        results_csv_rows(cf, k, t, faces, n, names);
        results_draw(dr, &frame, faces, n, EMO_DRAW_ALL);
        if (emo_video_write(w, &frame) != EMO_OK) {
            snprintf(msg, sizeof msg, "%s", emo_last_error());
            goto end;
        }
        /* The timeline point: the mean of the faces' smoothed probabilities. */
        pthread_mutex_lock(&js->lock);
        size_t stride = (size_t)nc + 1;
        if (j->tl_len + stride > j->tl_cap) {
            size_t cap = j->tl_cap ? j->tl_cap * 2 : stride * 1024;
            float *p = realloc(j->timeline, cap * sizeof *p);
            if (!p) {
                pthread_mutex_unlock(&js->lock);
                snprintf(msg, sizeof msg, "out of memory");
                goto end;
            }
            j->timeline = p;
            j->tl_cap = cap;
        }
        float *pt = j->timeline + j->tl_len;
        pt[0] = (float)t;
        for (int c = 0; c < nc; c++) {
            float sum = 0;
            for (int i = 0; i < n; i++) sum += faces[i].smoothed[c];
            pt[1 + c] = n ? sum / n : NAN;
        }
        j->tl_len += stride;
        j->done = ++k;
        j->faces += n;
        pthread_mutex_unlock(&js->lock);
    }
    if (r != EMO_EEOF) {
        snprintf(msg, sizeof msg, "%s", emo_last_error());
        goto end;
    }
    if (k == 0) {
        snprintf(msg, sizeof msg, "the video has no frames");
        goto end;
    }
    int st = emo_video_writer_close(w);
    w = NULL;
    if (st != EMO_OK) {
        snprintf(msg, sizeof msg, "%s", emo_last_error());
        goto end;
    }
end:
    if (w) emo_video_writer_discard(w);
    if (cf) fclose(cf);
    emo_video_close(v);
    emo_pipeline_close(pl);
    emo_drawer_close(dr);
    emo_image_free(&frame);
    unlink(j->in_path); /* the upload is not needed any more */
    pthread_mutex_lock(&js->lock);
    if (msg[0]) {
        snprintf(j->error, sizeof j->error, "%s", msg);
        j->state = JOB_ERROR;
        free(csv);
    } else {
        j->csv = csv;
        j->csv_len = csv_len;
        j->total = j->done;
        j->state = JOB_DONE;
    }
    pthread_mutex_unlock(&js->lock);
    return NULL;
}

int serve_job_start(server *sv, serve_job *j) {
    serve_jobs *js = sv->jobs;
    bool ok = fclose(j->in) == 0;
    j->in = NULL;
    if (!ok) {
        job_fail(js, j, "cannot store the upload");
        return emo_fail(EMO_EIO, "cannot store the upload");
    }
    job_run *run = malloc(sizeof *run);
    if (!run) {
        job_fail(js, j, "out of memory");
        return emo_fail(EMO_ENOMEM, "out of memory");
    }
    *run = (job_run){sv, j};
    pthread_mutex_lock(&js->lock);
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&js->lock);
    if (pthread_create(&j->thread, NULL, job_main, run) != 0) {
        free(run);
        job_fail(js, j, "cannot start a thread");
        return emo_fail(EMO_ENOMEM, "cannot start a thread");
    }
    j->joinable = true;
    return EMO_OK;
}

void serve_job_abort(server *sv, serve_job *j) {
    if (j->in) fclose(j->in);
    j->in = NULL;
    unlink(j->in_path);
    job_fail(sv->jobs, j, "upload failed");
}

const char *serve_job_id(const serve_job *j) { return j->id; }

static serve_job *find(serve_jobs *js, const char *id, size_t n) {
    for (int i = 0; i < SERVE_MAX_JOBS; i++)
        if (js->jobs[i] && strlen(js->jobs[i]->id) == n && memcmp(js->jobs[i]->id, id, n) == 0) return js->jobs[i];
    return NULL;
}

/* The job's status (locked). */
static void status_json(serve_job *j, json_buf *b) {
    static const char *const names[] = {"uploading", "running", "done", "error"};
    json_printf(b, "{\"job\":\"%s\",\"state\":\"%s\",\"done\":%ld,\"total\":%ld,\"faces\":%ld", j->id,
                names[j->state], j->done, j->total, j->faces);
    if (j->state == JOB_ERROR) {
        json_key(b, "error");
        json_str(b, j->error);
    }
    if (j->state == JOB_DONE) {
        json_printf(b, ",\"video\":\"/api/jobs/%s/video.mp4\",\"csv\":\"/api/jobs/%s/faces.csv\",\"classes\":[", j->id,
                    j->id);
        for (int c = 0; c < j->nclasses; c++) json_sep(b), json_str(b, j->classes[c]);
        /* Timeline, binned to at most TIMELINE_POINTS points. */
        json_lit(b, "],\"timeline\":[");
        size_t stride = (size_t)j->nclasses + 1, frames = j->tl_len / stride;
        size_t bins = EMO_MIN(frames, (size_t)TIMELINE_POINTS);
        for (size_t bi = 0; bi < bins; bi++) {
            size_t a = bi * frames / bins, e = (bi + 1) * frames / bins;
            double sum[EMO_PIPELINE_MAX_CLASSES] = {0};
            int with = 0;
            for (size_t f = a; f < e; f++) {
                const float *pt = j->timeline + f * stride;
                if (isnan(pt[1])) continue;
                with++;
                for (int c = 0; c < j->nclasses; c++) sum[c] += pt[1 + c];
            }
            json_sep(b);
            json_printf(b, "{\"t\":%.3f,\"scores\":", j->timeline[a * stride]);
            if (!with) json_lit(b, "null");
            else {
                json_lit(b, "[");
                for (int c = 0; c < j->nclasses; c++) json_sep(b), json_printf(b, "%.4f", sum[c] / with);
                json_lit(b, "]");
            }
            json_lit(b, "}");
        }
        json_lit(b, "]");
    }
    json_lit(b, "}");
}

/* GET /api/jobs/ID, /api/jobs/ID/video.mp4, /api/jobs/ID/faces.csv.
 * Returns an HTTP status and fills the response (*r), or 0 with *r NULL
 * when the caller should answer 404. */
unsigned serve_job_answer(server *sv, const char *rest, struct MHD_Response **r) {
    *r = NULL;
    serve_jobs *js = sv->jobs;
    if (!js) return 0;
    const char *slash = strchr(rest, '/');
    size_t idn = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *what = slash ? slash + 1 : "";
    pthread_mutex_lock(&js->lock);
    serve_job *j = find(js, rest, idn);
    unsigned code = 0;
    if (!j) {
        /* not found */
    } else if (!*what) {
        json_buf b = {0};
        status_json(j, &b);
        if (!b.failed) {
            *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
            if (*r) MHD_add_response_header(*r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            code = MHD_HTTP_OK;
        }
        json_free(&b);
    } else if (j->state == JOB_DONE && strcmp(what, "faces.csv") == 0) {
        *r = MHD_create_response_from_buffer(j->csv_len, j->csv, MHD_RESPMEM_MUST_COPY);
        if (*r) {
            MHD_add_response_header(*r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
            MHD_add_response_header(*r, "Content-Disposition", "attachment; filename=\"faces.csv\"");
        }
        code = MHD_HTTP_OK;
    } else if (j->state == JOB_DONE && strcmp(what, "video.mp4") == 0) {
        int fd = open(j->out_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            *r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* MHD closes fd */
            if (*r) MHD_add_response_header(*r, MHD_HTTP_HEADER_CONTENT_TYPE, "video/mp4");
            else close(fd);
            code = MHD_HTTP_OK;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    pthread_mutex_unlock(&js->lock);
    return *r ? code : 0;
}

void serve_jobs_close(server *sv) {
    serve_jobs *js = sv->jobs;
    if (!js) return;
    for (int i = 0; i < SERVE_MAX_JOBS; i++) job_free(js->jobs[i]);
    rmdir(js->dir);
    pthread_mutex_destroy(&js->lock);
    free(js);
    sv->jobs = NULL;
}
