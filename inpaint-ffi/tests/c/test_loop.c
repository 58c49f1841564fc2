/* Load/run/free in a loop through the C API: a classical model (telea), an ONNX graph
 * (inpaint-models' lama_dynamic.onnx test fixture), an options object, and a failing load
 * with its error object; every run must give the bytes of the first. Run by
 * scripts/test-c.sh under AddressSanitizer + LeakSanitizer and under valgrind (which report any
 * leak at exit), and without instrumentation with a resident-memory limit: with a third
 * argument, VmRSS after the last iteration may exceed VmRSS after the warm-up (a tenth of the
 * iterations) by at most that many KiB, so that memory kept reachable but growing also fails.
 *
 * usage: test_loop ONNX_FIXTURE_DIR ITERATIONS [MAX_RSS_GROWTH_KIB] */
#include "inpaint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define W 40u
#define H 32u
enum { N = W * H * 3 };

/* Resident set size in KiB from /proc/self/status; -1 if unreadable. */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* One load/run/free of `model` (already loaded; freed here); on the first call fills `first`,
 * later ones must match it. */
static void run_and_free(inpaint_model *model, const inpaint_image_view *iv,
                         const inpaint_image_view *mv, uint8_t *first, int *have_first) {
    uint8_t out[N];
    inpaint_error *err = NULL;
    uint32_t status = inpaint_model_run(model, iv, mv, out, sizeof out, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (err) {
        fprintf(stderr, "run: %s\n", inpaint_error_message(err));
        inpaint_error_free(err);
    }
    if (!*have_first) {
        memcpy(first, out, N);
        *have_first = 1;
    } else {
        CHECK(memcmp(first, out, N) == 0);
    }
    inpaint_model_free(model);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ONNX_FIXTURE_DIR ITERATIONS [MAX_RSS_GROWTH_KIB]\n", argv[0]);
        return 2;
    }
    long iterations = strtol(argv[2], NULL, 10);
    long max_growth = argc == 4 ? strtol(argv[3], NULL, 10) : -1;
    if (iterations < 1) {
        fprintf(stderr, "ITERATIONS must be positive\n");
        return 2;
    }
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/lama_dynamic.onnx", argv[1]);
    if (n < 0 || (size_t)n >= sizeof path) return 2;

    static uint8_t image[N], mask[W * H], first_classical[N], first_onnx[N];
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++) {
            for (unsigned c = 0; c < 3; c++) image[(y * W + x) * 3 + c] = (uint8_t)(x * 5 + y * 3 + c * 70);
            mask[y * W + x] = (x >= 10 && x < 25 && y >= 8 && y < 20) ? 255 : 0;
        }
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    int have_classical = 0, have_onnx = 0;
    long warmup = iterations / 10 > 0 ? iterations / 10 : 1;
    long rss_warmup = -1, rss_max = -1;

    for (long i = 1; i <= iterations; i++) {
        inpaint_model *model = NULL;
        inpaint_error *err = NULL;

        /* Classical, with an options object. */
        inpaint_model_options *opts = inpaint_model_options_new();
        CHECK(opts != NULL);
        CHECK(inpaint_model_options_set_radius(opts, 5.0) == INPAINT_STATUS_OK);
        CHECK(inpaint_model_load("telea", opts, &model, &err) == INPAINT_STATUS_OK);
        inpaint_model_options_free(opts);
        if (model) run_and_free(model, &iv, &mv, first_classical, &have_classical);

        /* ONNX: a session created and destroyed each time. */
        model = NULL;
        CHECK(inpaint_model_load_onnx(path, "lama-dynamic", "cpu", &model, &err) == INPAINT_STATUS_OK);
        if (err) {
            fprintf(stderr, "%s: %s\n", path, inpaint_error_message(err));
            inpaint_error_free(err);
            err = NULL;
        }
        if (model) run_and_free(model, &iv, &mv, first_onnx, &have_onnx);

        /* A failing load: the error object is freed, nothing else is left. */
        CHECK(inpaint_model_load_onnx(path, "lama", "cpu", &model, &err) == INPAINT_STATUS_MODEL);
        CHECK(model == NULL && err != NULL);
        inpaint_error_free(err);

        /* With a run-options object. */
        inpaint_run_options *run_opts = inpaint_run_options_new();
        CHECK(inpaint_run_options_set_hd_strategy(run_opts, "resize", NULL) == INPAINT_STATUS_OK);
        CHECK(inpaint_run_options_set_resize_limit(run_opts, 16) == INPAINT_STATUS_OK);
        CHECK(inpaint_model_load_classical("navier-stokes", &model, NULL) == INPAINT_STATUS_OK);
        uint8_t out[N];
        CHECK(inpaint_model_run_with_options(model, &iv, &mv, run_opts, out, sizeof out, NULL) ==
              INPAINT_STATUS_OK);
        inpaint_model_free(model);
        inpaint_run_options_free(run_opts);

        if (max_growth >= 0) {
            long rss = rss_kib();
            if (i == warmup) rss_warmup = rss;
            if (i > warmup && rss > rss_max) rss_max = rss;
        }
    }
    if (max_growth >= 0) {
        long growth = rss_max > rss_warmup ? rss_max - rss_warmup : 0;
        printf("rss: %ld KiB after %ld iterations, at most %ld KiB after %ld (growth %ld KiB, limit %ld)\n",
               rss_warmup, warmup, rss_max, iterations, growth, max_growth);
        CHECK(rss_warmup > 0);
        CHECK(growth <= max_growth);
    }
    printf("%ld iterations\n%d passed, %d failed\n", iterations, passed, failed);
    return failed == 0 ? 0 : 1;
}
