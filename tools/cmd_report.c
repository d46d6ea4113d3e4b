/* cmd_report.c — `emo report OUTDIR`: the summaries that `emo batch` left in
 * OUTDIR merged into one corpus: inputs.csv (a row per input), tracks.csv
 * (a row per face track), failures.csv, report.json (all three) and
 * overview.png (the emotion share of each file), sorted by input path. The
 * files hold results only, no timings, so the same corpus gives the same
 * bytes however it was split over processes or machines; the speed is
 * printed instead. */
#include "cli.h"
#include "commands.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUMMARY_CAP (16 << 20)
#define MAX_OVERVIEW_ROWS 4000 /* more inputs than this are merged into bins */

typedef struct summary {
    json_value v;
    const char *input, *status;
} summary;

static int by_input(const void *a, const void *b) {
    return strcmp(((const summary *)a)->input, ((const summary *)b)->input);
}

/* RFC 4180: quoted when it holds a comma, quote, CR or LF. */
static void csv_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < SUMMARY_CAP &&
        (buf = malloc((size_t)st.st_size + 1))) {
        *len = fread(buf, 1, (size_t)st.st_size, f);
        buf[*len] = 0;
    }
    fclose(f);
    return buf;
}

/* Frames of each class over all of an input's tracks (share x frames). */
static void input_counts(const json_value *v, const char *const *names, int k, double *counts, double *total) {
    const json_value *tracks = json_get(v, "tracks");
    for (int c = 0; c < k; c++) counts[c] = 0;
    *total = 0;
    for (int i = 0; tracks && tracks->type == JSON_ARR && i < tracks->n; i++) {
        const json_value *t = &tracks->items[i], *share = json_get(t, "share");
        double fr = json_get_num(t, "frames", 0);
        for (int c = 0; c < k; c++) counts[c] += round(json_get_num(share, names[c], 0) * fr);
        *total += fr;
    }
}

static int argmax(const double *v, int k) {
    int b = 0;
    for (int c = 1; c < k; c++)
        if (v[c] > v[b]) b = c;
    return b;
}

static bool finish(FILE *f, const char *path) {
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "emo report: cannot write %s: %s\n", path, strerror(errno ? errno : EIO));
        return false;
    }
    return true;
}

/* Writes to a .part name and renames, as emo batch does. */
static FILE *open_out(const char *dir, const char *name, char *path, size_t cap, char *part, size_t pcap) {
    snprintf(path, cap, "%s/%s", dir, name);
    snprintf(part, pcap, "%s/.%s.part", dir, name);
    FILE *f = fopen(part, "w");
    if (!f) fprintf(stderr, "emo report: cannot write %s: %s\n", part, strerror(errno));
    return f;
}

static bool close_out(FILE *f, const char *path, const char *part) {
    if (!finish(f, part)) return unlink(part), false;
    if (rename(part, path) != 0) {
        fprintf(stderr, "emo report: cannot rename %s: %s\n", part, strerror(errno));
        unlink(part);
        return false;
    }
    return true;
}

int cmd_report(int argc, char **argv) {
    const char *out = NULL;
    const cli_opt opts[] = {
        {"out", 'o', "DIR", "where the report goes (default OUTDIR/report)", .out_str = &out},
        {0},
    };
    const char *usage = "OUTDIR [--out DIR]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Merges the summaries `emo batch` wrote in OUTDIR (from any number of processes,\n"
                            "shards or cluster tasks) into inputs.csv, tracks.csv, failures.csv, report.json\n"
                            "and overview.png.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 1) {
        cli_usage(stderr, "report", opts, usage, NULL);
        return 2;
    }
    const char *dir = argv[1];
    char outdir[PATH_MAX];
    snprintf(outdir, sizeof outdir, "%s", out ? out : "");
    if (!out) snprintf(outdir, sizeof outdir, "%s/report", dir);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "emo report: cannot read %s: %s\n", dir, strerror(errno));
        return 1;
    }
    summary *sums = NULL;
    int n = 0, cap = 0, unreadable = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
        char path[PATH_MAX + 256], err[160];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *text = read_file(path, &len);
        json_value v;
        if (!text || json_parse(text, len, &v, err, sizeof err) != 0) {
            if (text) fprintf(stderr, "emo report: %s: not a summary (%s): left out\n", path, err);
            free(text);
            unreadable++;
            continue;
        }
        free(text);
        const char *input = json_get_str(&v, "input"), *status = json_get_str(&v, "status");
        if (json_get_num(&v, "emo_batch", 0) != 1 || !input || !status) {
            json_value_free(&v);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            summary *ns = realloc(sums, sizeof *ns * (size_t)cap);
            if (!ns) {
                closedir(d);
                return cli_error("report", "out of memory");
            }
            sums = ns;
        }
        sums[n++] = (summary){v, input, status};
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "emo report: no emo batch summaries in %s\n", dir);
        free(sums);
        return 1;
    }
    qsort(sums, (size_t)n, sizeof *sums, by_input);

    /* Classes: those of the first ok summary; all must agree. */
    const json_value *classes = NULL;
    for (int i = 0; i < n && !classes; i++)
        if (strcmp(sums[i].status, "ok") == 0) classes = json_get(&sums[i].v, "classes");
    const char *names[64];
    int k = 0;
    for (int c = 0; classes && classes->type == JSON_ARR && c < classes->n && k < 64; c++)
        if (classes->items[c].type == JSON_STR) names[k++] = classes->items[c].str;
    for (int i = 0; i < n; i++) {
        if (strcmp(sums[i].status, "ok") != 0) continue;
        const json_value *cl = json_get(&sums[i].v, "classes");
        bool same = cl && cl->type == JSON_ARR && cl->n == k;
        for (int c = 0; same && c < k; c++) same = cl->items[c].type == JSON_STR && strcmp(cl->items[c].str, names[c]) == 0;
        if (!same) {
            fprintf(stderr, "emo report: %s was analysed with other classes than %s (another model): "
                            "report each model's outputs separately\n", sums[i].input, sums[0].input);
            for (int j = 0; j < n; j++) json_value_free(&sums[j].v);
            free(sums);
            return 1;
        }
    }
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "emo report: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }

    char p_in[PATH_MAX + 64], p_tr[PATH_MAX + 64], p_fa[PATH_MAX + 64], p_js[PATH_MAX + 64], p_png[PATH_MAX + 64];
    char q_in[PATH_MAX + 64], q_tr[PATH_MAX + 64], q_fa[PATH_MAX + 64], q_js[PATH_MAX + 64];
    FILE *fi = open_out(outdir, "inputs.csv", p_in, sizeof p_in, q_in, sizeof q_in);
    FILE *ft = fi ? open_out(outdir, "tracks.csv", p_tr, sizeof p_tr, q_tr, sizeof q_tr) : NULL;
    FILE *ff = ft ? open_out(outdir, "failures.csv", p_fa, sizeof p_fa, q_fa, sizeof q_fa) : NULL;
    FILE *fj = ff ? open_out(outdir, "report.json", p_js, sizeof p_js, q_js, sizeof q_js) : NULL;
    snprintf(p_png, sizeof p_png, "%s/overview.png", outdir);
    float *shares = calloc((size_t)n * (size_t)(k ? k : 1), sizeof *shares);
    const char **labels = calloc((size_t)n, sizeof *labels);
    char (*label_buf)[96] = calloc((size_t)n, sizeof *label_buf);
    int status = 0;
    if (!fj || !shares || !labels || !label_buf) {
        if (fi) fclose(fi), unlink(q_in);
        if (ft) fclose(ft), unlink(q_tr);
        if (ff) fclose(ff), unlink(q_fa);
        status = 1;
        goto done;
    }
    fputs("input,name,status,kind,frames,duration_s,frames_with_faces,faces,tracks,emotion", fi);
    for (int c = 0; c < k; c++) fprintf(fi, ",share_%s", names[c]);
    fputs(",error\n", fi);
    fputs("input,name,track,frames,first_s,last_s,emotion", ft);
    for (int c = 0; c < k; c++) fprintf(ft, ",share_%s", names[c]);
    for (int c = 0; c < k; c++) fprintf(ft, ",mean_%s", names[c]);
    fputc('\n', ft);
    fputs("input,error\n", ff);

    json_buf js = {0}, jt = {0}, jf = {0};
    long frames = 0, faces = 0, ntracks = 0;
    double duration = 0, proc_s = 0, proc_frames = 0;
    int ok = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        const json_value *v = &sums[i].v;
        const char *name = json_get_str(v, "name"), *err = json_get_str(v, "error");
        bool good = strcmp(sums[i].status, "ok") == 0;
        double counts[64], total;
        input_counts(v, names, k, counts, &total);
        const json_value *tracks = json_get(v, "tracks");
        int nt = tracks && tracks->type == JSON_ARR ? tracks->n : 0;
        /* the label: folder/file, so same-named files in different folders differ */
        const char *base = sums[i].input, *end = strrchr(base, '/');
        for (const char *q = base; end && q < end; q++)
            if (*q == '/') base = q + 1;
        snprintf(label_buf[i], sizeof label_buf[i], "%s%s", base, good ? (total > 0 ? "" : " (no face)") : " (failed)");
        labels[i] = label_buf[i];
        for (int c = 0; c < k && total > 0; c++) shares[(size_t)i * k + c] = (float)(counts[c] / total);
        const char *dominant = total > 0 ? names[argmax(counts, k)] : "";
        long fr = (long)json_get_num(v, "frames", 0), fw = (long)json_get_num(v, "frames_with_faces", 0),
             fc = (long)json_get_num(v, "faces", 0);
        double du = json_get_num(v, "duration_s", 0);
        const char *kind = json_get_str(v, "kind");
        if (good) ok++, frames += fr, faces += fc, ntracks += nt, duration += du;
        else failed++;
        const json_value *proc = json_get(v, "processing");
        proc_s += json_get_num(proc, "seconds", 0), proc_frames += good ? fr : 0;

        csv_field(fi, sums[i].input), fputc(',', fi), csv_field(fi, name), fprintf(fi, ",%s,", sums[i].status);
        csv_field(fi, kind);
        if (good) fprintf(fi, ",%ld,%.3f,%ld,%ld,%d,%s", fr, du, fw, fc, nt, dominant);
        else fputs(",,,,,,", fi);
        for (int c = 0; c < k; c++)
            if (total > 0) fprintf(fi, ",%.4f", counts[c] / total);
            else fputc(',', fi);
        fputc(',', fi), csv_field(fi, err), fputc('\n', fi);

        json_sep(&js);
        json_lit(&js, "{\"input\":"), json_str(&js, sums[i].input);
        json_key(&js, "name"), json_str(&js, name);
        json_key(&js, "status"), json_str(&js, sums[i].status);
        if (good) {
            json_key(&js, "kind"), json_str(&js, kind);
            json_key(&js, "frames"), json_printf(&js, "%ld", fr);
            json_key(&js, "duration_s"), json_printf(&js, "%.3f", du);
            json_key(&js, "frames_with_faces"), json_printf(&js, "%ld", fw);
            json_key(&js, "faces"), json_printf(&js, "%ld", fc);
            json_key(&js, "tracks"), json_printf(&js, "%d", nt);
            json_key(&js, "emotion"), json_str(&js, total > 0 ? dominant : NULL);
            json_key(&js, "share"), json_lit(&js, "{");
            for (int c = 0; c < k && total > 0; c++) json_key(&js, names[c]), json_printf(&js, "%.4f", counts[c] / total);
            json_lit(&js, "}");
        } else {
            json_key(&js, "error"), json_str(&js, err);
            csv_field(ff, sums[i].input), fputc(',', ff), csv_field(ff, err), fputc('\n', ff);
            json_sep(&jf);
            json_lit(&jf, "{\"input\":"), json_str(&jf, sums[i].input);
            json_key(&jf, "error"), json_str(&jf, err);
            json_lit(&jf, "}");
        }
        json_lit(&js, "}");

        for (int t = 0; t < nt; t++) {
            const json_value *tr = &tracks->items[t], *sh = json_get(tr, "share"), *mean = json_get(tr, "mean");
            const char *emo = json_get_str(tr, "emotion");
            int id = (int)json_get_num(tr, "id", 0);
            long tf = (long)json_get_num(tr, "frames", 0);
            double a = json_get_num(tr, "first_s", 0), z = json_get_num(tr, "last_s", 0);
            csv_field(ft, sums[i].input), fputc(',', ft), csv_field(ft, name);
            fprintf(ft, ",%d,%ld,%.3f,%.3f,%s", id, tf, a, z, emo ? emo : "");
            for (int c = 0; c < k; c++) fprintf(ft, ",%.4f", json_get_num(sh, names[c], 0));
            for (int c = 0; c < k; c++) fprintf(ft, ",%.4f", json_get_num(mean, names[c], 0));
            fputc('\n', ft);
            json_sep(&jt);
            json_lit(&jt, "{\"input\":"), json_str(&jt, sums[i].input);
            json_printf(&jt, ",\"track\":%d,\"frames\":%ld,\"first_s\":%.3f,\"last_s\":%.3f", id, tf, a, z);
            json_key(&jt, "emotion"), json_str(&jt, emo);
            json_key(&jt, "share"), json_lit(&jt, "{");
            for (int c = 0; c < k; c++) json_key(&jt, names[c]), json_printf(&jt, "%.4f", json_get_num(sh, names[c], 0));
            json_lit(&jt, "}");
            json_key(&jt, "mean"), json_lit(&jt, "{");
            for (int c = 0; c < k; c++) json_key(&jt, names[c]), json_printf(&jt, "%.4f", json_get_num(mean, names[c], 0));
            json_lit(&jt, "}}");
        }
    }
    fprintf(fj, "{\"emo_report\":1,\"classes\":[");
    for (int c = 0; c < k; c++) fputs(c ? "," : "", fj), json_print_str(fj, names[c]);
    fprintf(fj, "],\"totals\":{\"inputs\":%d,\"ok\":%d,\"failed\":%d,\"frames\":%ld,\"faces\":%ld,\"tracks\":%ld,"
                "\"duration_s\":%.3f},\n\"inputs\":[%s],\n\"tracks\":[%s],\n\"failures\":[%s]}\n",
            n, ok, failed, frames, faces, ntracks, duration, js.data ? js.data : "", jt.data ? jt.data : "",
            jf.data ? jf.data : "");
    bool wrote = !js.failed && !jt.failed && !jf.failed;
    json_free(&js), json_free(&jt), json_free(&jf);
    wrote = close_out(fi, p_in, q_in) & close_out(ft, p_tr, q_tr) & close_out(ff, p_fa, q_fa) &
            close_out(fj, p_js, q_js) && wrote;
    if (!wrote) {
        status = 1;
        goto done;
    }

    /* The overview: a bar per input; a long corpus in bins of consecutive inputs. */
    int per = (n + MAX_OVERVIEW_ROWS - 1) / MAX_OVERVIEW_ROWS, rows = (n + per - 1) / per;
    if (per > 1) {
        for (int rr = 0; rr < rows; rr++) {
            int a = rr * per, z = CLI_MIN(n, a + per);
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int i = a; i < z; i++) s += shares[(size_t)i * k + c];
                shares[(size_t)rr * k + c] = (float)s;
            }
            snprintf(label_buf[rr], sizeof label_buf[rr], "inputs %d-%d", a + 1, z);
            labels[rr] = label_buf[rr];
        }
    }
    char title[160];
    snprintf(title, sizeof title, "Emotion share per file (%d inputs, %d failed; share of face frames)", n, failed);
    emo_image png = {0};
    if (k == 0 || emo_plot_shares(&png, 1100, title, labels, shares, rows, k, names) != EMO_OK ||
        emo_image_save(&png, p_png, 90) != EMO_OK) {
        if (k == 0) fprintf(stderr, "emo report: no input was analysed: no overview\n");
        else cli_error("report", "cannot write %s", p_png);
        status = k == 0 ? 0 : 1;
    }
    emo_image_free(&png);

    printf("emo report: %d inputs (%d ok, %d failed), %ld frames, %.1f s of video, %ld faces in %ld tracks\n", n, ok,
           failed, frames, duration, faces, ntracks);
    if (proc_s > 0)
        printf("emo report: analysis took %.1f s of worker time: %.1f frames/s, %.1fx real time per worker\n", proc_s,
               proc_frames / proc_s, duration / proc_s);
    for (int i = 0; i < n; i++)
        if (strcmp(sums[i].status, "ok") != 0) printf("emo report: failed: %s: %s\n", sums[i].input, json_get_str(&sums[i].v, "error"));
    printf("emo report: wrote %s/{inputs.csv,tracks.csv,failures.csv,report.json%s}\n", outdir, k ? ",overview.png" : "");
    if (unreadable) fprintf(stderr, "emo report: %d .json files in %s were not summaries\n", unreadable, dir);
done:
    free(shares), free(labels), free(label_buf);
    for (int i = 0; i < n; i++) json_value_free(&sums[i].v);
    free(sums);
    return status;
}
