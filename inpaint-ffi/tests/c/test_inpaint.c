/* C tests of the inpaint C API: built with -Wall -Wextra -Wpedantic -Werror -std=c11 and run
 * under AddressSanitizer + UBSan and under valgrind by scripts/test-c.sh. */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv: the "no API key" test */
#include "inpaint.h"
#include "inpaint.h" /* twice: the include guard must hold */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define W 20u
#define H 16u

static void make_image(uint8_t *px, size_t stride, unsigned bpp) {
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++)
            for (unsigned c = 0; c < bpp; c++)
                px[y * stride + x * bpp + c] = (uint8_t)(x * 11 + y * 7 + c * 50);
}

static void make_mask(uint8_t *px, size_t stride) {
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++)
            px[y * stride + x] = (x >= 6 && x < 12 && y >= 5 && y < 10) ? 255 : 0;
}

static int in_hole(unsigned x, unsigned y) { return x >= 6 && x < 12 && y >= 5 && y < 10; }

/* `out` (W×H RGB) equals `image` outside the hole and differs from it somewhere inside. */
static void check_only_the_hole_changed(const uint8_t *out, const uint8_t *image) {
    int outside_same = 1, inside_changed = 0;
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++) {
            int same = memcmp(out + (y * W + x) * 3, image + (y * W + x) * 3, 3) == 0;
            if (in_hole(x, y)) inside_changed |= !same;
            else outside_same &= same;
        }
    CHECK(outside_same);
    CHECK(inside_changed);
}

static inpaint_model *load(const char *name) {
    inpaint_model *model = NULL;
    CHECK(inpaint_model_load_classical(name, &model, NULL) == INPAINT_STATUS_OK);
    CHECK(model != NULL);
    return model;
}

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", INPAINT_VERSION_MAJOR, INPAINT_VERSION_MINOR,
             INPAINT_VERSION_PATCH);
    CHECK(strcmp(inpaint_version(), expected) == 0);
    CHECK(INPAINT_VERSION_NUMBER ==
          ((INPAINT_VERSION_MAJOR << 16) | (INPAINT_VERSION_MINOR << 8) | INPAINT_VERSION_PATCH));
    CHECK((INPAINT_VERSION_NUMBER >> 16) == INPAINT_VERSION_MAJOR);
    CHECK(((INPAINT_VERSION_NUMBER >> 8) & 0xff) == INPAINT_VERSION_MINOR);
    CHECK((INPAINT_VERSION_NUMBER & 0xff) == INPAINT_VERSION_PATCH);
}

static void test_status_str(void) {
    CHECK(strcmp(inpaint_status_str(INPAINT_STATUS_OK), "ok") == 0);
    CHECK(strcmp(inpaint_status_str(INPAINT_STATUS_NULL_PARAMETER), "unknown status") != 0);
    CHECK(strcmp(inpaint_status_str(INPAINT_STATUS_PANIC), "unknown status") != 0);
    CHECK(strcmp(inpaint_status_str(12345), "unknown status") == 0);
    CHECK(strcmp(inpaint_status_str(UINT32_MAX), "unknown status") == 0);
}

static void test_load(void) {
    inpaint_model *model = (inpaint_model *)&passed; /* garbage: must become NULL */
    inpaint_error *err = NULL;
    CHECK(inpaint_model_load_classical("lama", &model, &err) == INPAINT_STATUS_UNSUPPORTED);
    CHECK(model == NULL);
    CHECK(err != NULL);
    CHECK(inpaint_error_status(err) == INPAINT_STATUS_UNSUPPORTED);
    CHECK(strstr(inpaint_error_message(err), "telea") != NULL);
    CHECK(strstr(inpaint_error_message(err), "navier-stokes") != NULL);
    inpaint_error_free(err);

    CHECK(inpaint_model_load_classical(NULL, &model, &err) == INPAINT_STATUS_NULL_PARAMETER);
    inpaint_error_free(err);
    CHECK(inpaint_model_load_classical("telea", NULL, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_load_classical("tel\xff" "a", &model, NULL) == INPAINT_STATUS_INVALID_UTF8);
    CHECK(model == NULL);

    CHECK(inpaint_model_load_onnx(NULL, "lama", "cpu", &model, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_load_onnx("lama.onnx", NULL, "cpu", &model, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_load_onnx("lama.onnx", "lama", "cpu", NULL, NULL) == INPAINT_STATUS_NULL_PARAMETER);

    size_t count = inpaint_model_name_count();
    CHECK(count >= 2);
    CHECK(strcmp(inpaint_model_name_at(0), "patchmatch") == 0); /* the default */
    CHECK(inpaint_model_name_at(count) == NULL);
    for (size_t i = 0; i < count; i++) {
        if (inpaint_model_needs_at(i) & INPAINT_NEEDS_NETWORK) continue; /* test_openai */
        CHECK(inpaint_model_needs_at(i) == 0);
        model = load(inpaint_model_name_at(i));
        CHECK(inpaint_model_needs(model) == 0);
        CHECK(strcmp(inpaint_model_name(model), inpaint_model_name_at(i)) == 0);
        CHECK(strcmp(inpaint_model_device(model), "cpu") == 0);
        inpaint_model_free(model);
    }

    inpaint_model_options *opts = inpaint_model_options_new();
    CHECK(opts != NULL);
    CHECK(inpaint_model_options_set_radius(opts, 6.0) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("navier-stokes", opts, &model, NULL) == INPAINT_STATUS_OK);
    inpaint_model_free(model);
    CHECK(inpaint_model_options_set_radius(opts, -3.0) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("telea", opts, &model, NULL) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    inpaint_model_options_free(opts);

    inpaint_model_free(NULL);
    inpaint_error_free(NULL);
    inpaint_model_options_free(NULL);
    inpaint_run_options_free(NULL);
}

static void test_run(void) {
    inpaint_model *model = load("telea");
    enum { N = W * H * 3 };
    uint8_t image[N], mask[W * H], out[N + 8];
    make_image(image, W * 3, 3);
    make_mask(mask, W);
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};

    /* Success: outside the hole unchanged, inside changed, nothing past N written. */
    memset(out, 0xEE, sizeof out);
    inpaint_error *err = NULL;
    CHECK(inpaint_model_run(model, &iv, &mv, out, N, &err) == INPAINT_STATUS_OK);
    CHECK(err == NULL);
    check_only_the_hole_changed(out, image);
    CHECK(out[N] == 0xEE && out[N + 7] == 0xEE);

    /* Padded strides give the same result. */
    uint8_t padded[H * (W * 3 + 7)], padded_mask[H * (W + 5)], out2[N];
    memset(padded, 0x33, sizeof padded);
    memset(padded_mask, 0xFF, sizeof padded_mask);
    make_image(padded, W * 3 + 7, 3);
    make_mask(padded_mask, W + 5);
    inpaint_image_view piv = {padded, sizeof padded, W, H, W * 3 + 7, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view pmv = {padded_mask, sizeof padded_mask, W, H, W + 5, INPAINT_PIXEL_FORMAT_GRAY8};
    CHECK(inpaint_model_run(model, &piv, &pmv, out2, sizeof out2, NULL) == INPAINT_STATUS_OK);
    CHECK(memcmp(out, out2, N) == 0);

    /* A short output buffer: refused, nothing written. */
    memset(out, 0xEE, sizeof out);
    CHECK(inpaint_model_run(model, &iv, &mv, out, N - 1, &err) == INPAINT_STATUS_INSUFFICIENT_SIZE);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "bytes") != NULL);
    inpaint_error_free(err);
    int untouched = 1;
    for (size_t i = 0; i < sizeof out; i++) untouched &= out[i] == 0xEE;
    CHECK(untouched);

    /* Bad views and arguments. */
    inpaint_image_view bad = iv;
    bad.stride = W * 3 - 1;
    CHECK(inpaint_model_run(model, &bad, &mv, out, N, NULL) == INPAINT_STATUS_INVALID_INPUT);
    bad = iv;
    bad.len = N - 1;
    CHECK(inpaint_model_run(model, &bad, &mv, out, N, NULL) == INPAINT_STATUS_INVALID_INPUT);
    bad = iv;
    bad.stride = SIZE_MAX;
    CHECK(inpaint_model_run(model, &bad, &mv, out, N, NULL) == INPAINT_STATUS_INVALID_INPUT);
    bad = iv;
    bad.format = 0;
    CHECK(inpaint_model_run(model, &bad, &mv, out, N, NULL) == INPAINT_STATUS_INVALID_INPUT);
    bad = iv;
    bad.data = NULL;
    CHECK(inpaint_model_run(model, &bad, &mv, out, N, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    inpaint_image_view small_mask = {mask, sizeof mask, W - 1, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    CHECK(inpaint_model_run(model, &iv, &small_mask, out, N, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(strstr(inpaint_error_message(err), "same size") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_run(NULL, &iv, &mv, out, N, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_run(model, NULL, &mv, out, N, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_run(model, &iv, NULL, out, N, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_run(model, &iv, &mv, NULL, N, NULL) == INPAINT_STATUS_NULL_PARAMETER);

    /* Run options. */
    inpaint_run_options *opts = inpaint_run_options_new();
    CHECK(opts != NULL);
    CHECK(inpaint_run_options_set_hd_strategy(opts, "bogus", &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(strstr(inpaint_error_message(err), "crop") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_run_options_set_hd_strategy(opts, "resize", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_resize_limit(opts, 8) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_crop_trigger_size(opts, 8) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_crop_margin(opts, 2) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_run_with_options(model, &iv, &mv, opts, out, N, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_hd_strategy(NULL, "crop", NULL) == INPAINT_STATUS_NULL_PARAMETER);

    /* The extender (outpainting): a box of at least 1x1, the canvas size, and a refusal from
       a model that is not a diffusion model, with nothing written. */
    uint32_t ow = 0, oh = 0;
    CHECK(inpaint_run_options_set_extender(opts, 0, 0, -1, 4, &err) == INPAINT_STATUS_INVALID_INPUT);
    inpaint_error_free(err);
    CHECK(inpaint_run_options_set_extender(opts, -2, 0, (int64_t)W + 2, (int64_t)H + 3, NULL) ==
          INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_output_size(opts, W, H, &ow, &oh, NULL) == INPAINT_STATUS_OK);
    CHECK(ow == W + 2 && oh == H + 3);
    CHECK(inpaint_model_run_with_options(model, &iv, &mv, opts, out, N, NULL) ==
          INPAINT_STATUS_INSUFFICIENT_SIZE);
    CHECK(inpaint_run_options_clear_extender(opts) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_output_size(opts, W, H, &ow, &oh, NULL) == INPAINT_STATUS_OK);
    CHECK(ow == W && oh == H);
    inpaint_run_options_free(opts);
    inpaint_model_free(model);
}

static void test_rgba(void) {
    inpaint_model *model = load("navier-stokes");
    enum { N = W * H * 4 };
    uint8_t image[N], mask[W * H], out[N];
    make_image(image, W * 4, 4);
    make_mask(mask, W);
    inpaint_image_view iv = {image, sizeof image, W, H, W * 4, INPAINT_PIXEL_FORMAT_RGBA8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    CHECK(inpaint_model_run(model, &iv, &mv, out, sizeof out, NULL) == INPAINT_STATUS_OK);
    int alpha_kept = 1;
    for (size_t i = 3; i < N; i += 4) alpha_kept &= out[i] == image[i];
    CHECK(alpha_kept);
    /* In place: out may be the image's own buffer. */
    uint8_t copy[N];
    memcpy(copy, out, N);
    CHECK(inpaint_model_run(model, &iv, &mv, image, sizeof image, NULL) == INPAINT_STATUS_OK);
    CHECK(memcmp(image, copy, N) == 0);
    inpaint_model_free(model);
}

/* Loads `dir`/`file` as `arch` on `device`; returns the status, sets *model and *err. */
static uint32_t load_onnx(const char *dir, const char *file, const char *arch, const char *device,
                          inpaint_model **model, inpaint_error **err) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, file);
    CHECK(n > 0 && (size_t)n < sizeof path);
    *model = (inpaint_model *)&passed; /* garbage: must become NULL on failure */
    return inpaint_model_load_onnx(path, arch, device, model, err);
}

/* The ONNX test graphs of inpaint-models/tests/fixtures/onnx (see their README), in `dir`. */
static void test_onnx(const char *dir) {
    inpaint_model *model = NULL;
    inpaint_error *err = NULL;

    /* lama_dynamic.onnx fills the hole of a uniform image of colour P with 255 C + P / 4,
     * C = (0.6, 0.1, 0.3), and keeps every other pixel; times 4, in whole numbers: */
    static const uint8_t P[3] = {42, 121, 201};
    static const int fill4[3] = {4 * 153 + 42, 102 + 121, 306 + 201}; /* (163.5, 55.75, 126.75) */
    enum { N = W * H * 3 };
    uint8_t image[N], mask[W * H], out[N];
    for (size_t i = 0; i < N; i++) image[i] = P[i % 3];
    make_mask(mask, W);
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    const char *devices[2] = {"cpu", NULL}; /* NULL means "cpu" */
    for (int d = 0; d < 2; d++) {
        uint32_t status = load_onnx(dir, "lama_dynamic.onnx", "lama-dynamic", devices[d], &model, &err);
        CHECK(status == INPAINT_STATUS_OK);
        if (status != INPAINT_STATUS_OK) {
            fprintf(stderr, "lama_dynamic.onnx: %s\n", err ? inpaint_error_message(err) : "?");
            inpaint_error_free(err);
            return;
        }
        CHECK(err == NULL);
        CHECK(strcmp(inpaint_model_name(model), "lama-dynamic") == 0);
        CHECK(strcmp(inpaint_model_device(model), "cpu") == 0);
        memset(out, 0, sizeof out);
        CHECK(inpaint_model_run(model, &iv, &mv, out, sizeof out, &err) == INPAINT_STATUS_OK);
        CHECK(err == NULL);
        int outside_same = 1, inside_filled = 1;
        for (unsigned y = 0; y < H; y++)
            for (unsigned x = 0; x < W; x++)
                for (unsigned c = 0; c < 3; c++) {
                    int v = out[(y * W + x) * 3 + c];
                    if (in_hole(x, y)) inside_filled &= abs(4 * v - fill4[c]) <= 4;
                    else outside_same &= v == P[c];
                }
        CHECK(outside_same);
        CHECK(inside_filled);
        inpaint_model_free(model);
    }

    /* A graph that is not LaMa's contract: a model error naming the mismatch. */
    CHECK(load_onnx(dir, "wrong_names.onnx", "lama", "cpu", &model, &err) == INPAINT_STATUS_MODEL);
    CHECK(model == NULL);
    CHECK(err != NULL && inpaint_error_status(err) == INPAINT_STATUS_MODEL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "no input named `image`") != NULL);
    inpaint_error_free(err);

    /* Unknown names list the known ones; a missing file is I/O; a device this build lacks is
     * a runtime error naming the feature. */
    CHECK(load_onnx(dir, "lama_dynamic.onnx", "lamma", "cpu", &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(strstr(inpaint_error_message(err), "lama-dynamic") != NULL);
    CHECK(strstr(inpaint_error_message(err), "migan-pipeline") != NULL);
    inpaint_error_free(err);
    CHECK(load_onnx(dir, "lama_dynamic.onnx", "lama-dynamic", "cdua", &model, &err) ==
          INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(strstr(inpaint_error_message(err), "known devices") != NULL);
    inpaint_error_free(err);
    CHECK(load_onnx(dir, "no_such_model.onnx", "lama", "cpu", &model, &err) == INPAINT_STATUS_IO);
    CHECK(model == NULL);
    inpaint_error_free(err);
    CHECK(load_onnx(dir, "lama_dynamic.onnx", "lama-dynamic", "cuda", &model, &err) == INPAINT_STATUS_RUNTIME);
    CHECK(model == NULL);
    CHECK(strstr(inpaint_error_message(err), "`cuda` feature") != NULL);
    inpaint_error_free(err);
    CHECK(strcmp(inpaint_status_str(INPAINT_STATUS_RUNTIME), "unknown status") != 0);
}

/* Diffusion's run options: the prompt, the sampler by IOPaint's name, the numbers; and a
 * diffusion folder that is not there. (The tiny SDXL pipeline runs in test_sdxl.) */
static void test_diffusion_options(const char *onnx_dir) {
    inpaint_run_options *opts = inpaint_run_options_new();
    inpaint_error *err = NULL;
    CHECK(opts != NULL);
    CHECK(inpaint_run_options_set_prompt(opts, "a red bench", NULL, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_prompt(opts, "a red bench", "blurry", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_prompt(opts, NULL, NULL, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_run_options_set_prompt(opts, "caf\xff", NULL, NULL) == INPAINT_STATUS_INVALID_UTF8);
    CHECK(inpaint_run_options_set_sampler(opts, "DPM++ 2M Karras", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_sampler(opts, "Eulr", &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "Euler a") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_run_options_set_steps(opts, 20) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_guidance_scale(opts, 5.0f) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_seed(opts, 7) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_strength(opts, 0.8f) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_sd_mask_blur(opts, 0) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_steps(NULL, 20) == INPAINT_STATUS_NULL_PARAMETER);
    inpaint_run_options_free(opts);

    char path[4096];
    int n = snprintf(path, sizeof path, "%s/../diffusion/no-such-pipeline", onnx_dir);
    CHECK(n > 0 && (size_t)n < sizeof path);
    inpaint_model *model = (inpaint_model *)&passed;
    CHECK(inpaint_model_load_diffusion(path, NULL, &model, &err) == INPAINT_STATUS_IO);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "model_index.json") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_load_diffusion(NULL, NULL, &model, NULL) == INPAINT_STATUS_NULL_PARAMETER);
}

/* IOPaint's 19 sampler names, as inpaint_run_options_set_sampler takes them. */
static const char *const SAMPLERS[] = {
    "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ 2M SDE Karras", "DPM++ SDE",
    "DPM++ SDE Karras", "DPM2", "DPM2 Karras", "DPM2 a", "DPM2 a Karras", "Euler", "Euler a",
    "Heun", "LMS", "LMS Karras", "DDIM", "PNDM", "UniPC", "LCM",
};
enum { SAMPLER_COUNT = sizeof SAMPLERS / sizeof SAMPLERS[0] };

/* Writes `onnx_dir`/../diffusion/`name`[/`file`] (a fixture of inpaint-models, made by
 * scripts/make-diffusion-fixtures.py) to `path`. */
static void pipeline_path(char *path, size_t size, const char *onnx_dir, const char *name,
                          const char *file) {
    int n = snprintf(path, size, "%s/../diffusion/%s%s%s", onnx_dir, name, file ? "/" : "",
                     file ? file : "");
    CHECK(n > 0 && (size_t)n < size);
}

/* Loads the diffusion fixture `name` with `opts`; returns the status, sets *model and *err. */
static uint32_t load_pipeline(const char *onnx_dir, const char *name, const inpaint_model_options *opts,
                              inpaint_model **model, inpaint_error **err) {
    char path[4096];
    pipeline_path(path, sizeof path, onnx_dir, name, NULL);
    *model = (inpaint_model *)&passed; /* garbage: must become NULL on failure */
    return inpaint_model_load_diffusion_with_options(path, NULL, opts, model, err);
}

/* The size of a fixture's graph file, in bytes. */
static uint64_t graph_size(const char *onnx_dir, const char *name, const char *graph) {
    char file[256], path[4096];
    snprintf(file, sizeof file, "%s/model.onnx", graph);
    pipeline_path(path, sizeof path, onnx_dir, name, file);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return 0;
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    fclose(f);
    CHECK(size > 0);
    return size > 0 ? (uint64_t)size : 0;
}

/* The bytes the weights of fixture `name` take with its stages loaded on demand: the UNet and
 * the largest other graph (checking that this is less than all of them). */
static uint64_t on_demand_bytes(const char *onnx_dir, const char *name) {
    static const char *const others[] = {"text_encoder", "text_encoder_2", "vae_encoder", "vae_decoder"};
    uint64_t unet = graph_size(onnx_dir, name, "unet"), all = unet, largest = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t size = graph_size(onnx_dir, name, others[i]);
        all += size;
        largest = size > largest ? size : largest;
    }
    CHECK(unet + largest < all);
    return unet + largest;
}

/* The diffusion pipelines' memory settings: checked when set, refused by the models that do
 * not take them (and the other models' settings refused by a pipeline), and a memory limit
 * below the weights refused before anything is loaded, with a message that gives the sizes.
 * A limit that holds the UNet and the largest other graph but not all of them is refused
 * too, saying that loading the stages on demand would fit. */
static void test_diffusion_memory_options(const char *onnx_dir) {
    inpaint_model_options *opts = inpaint_model_options_new();
    inpaint_model *model = NULL;
    inpaint_error *err = NULL;
    CHECK(opts != NULL);
    CHECK(inpaint_model_options_set_load_stages_on_demand(NULL, true) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_options_set_cpu_arena(NULL, false) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_options_set_memory_limit(NULL, INPAINT_MEMORY_LIMIT_BYTES, 1, &err) ==
          INPAINT_STATUS_NULL_PARAMETER);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "opts") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_options_set_memory_limit(opts, 7, 0, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "INPAINT_MEMORY_LIMIT_BYTES") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_UNCHECKED, 5, NULL) ==
          INPAINT_STATUS_INVALID_INPUT);
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_AVAILABLE, 0, NULL) ==
          INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_UNCHECKED, 0, NULL) ==
          INPAINT_STATUS_OK);

    /* Given to a model that is not a diffusion pipeline: refused when loading, naming it. */
    CHECK(inpaint_model_load("telea", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "memory limit") != NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "diffusion pipelines only") != NULL);
    inpaint_error_free(err);
    inpaint_model_options_free(opts);
    opts = inpaint_model_options_new();
    CHECK(inpaint_model_options_set_cpu_arena(opts, true) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("patchmatch", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "CPU arena") != NULL);
    inpaint_error_free(err);
    inpaint_model_options_free(opts);
    /* And a classical model's setting given to a pipeline. */
    opts = inpaint_model_options_new();
    CHECK(inpaint_model_options_set_radius(opts, 3.0) == INPAINT_STATUS_OK);
    CHECK(load_pipeline(onnx_dir, "sdxl-tiny-inpaint", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "radius") != NULL);
    inpaint_error_free(err);
    inpaint_model_options_free(opts);

    /* Too little memory for the weights: refused before loading, with the sizes. */
    uint64_t unet = graph_size(onnx_dir, "sdxl-tiny-inpaint", "unet");
    uint64_t on_demand = on_demand_bytes(onnx_dir, "sdxl-tiny-inpaint");
    opts = inpaint_model_options_new();
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_BYTES, unet - 1, NULL) ==
          INPAINT_STATUS_OK);
    CHECK(load_pipeline(onnx_dir, "sdxl-tiny-inpaint", opts, &model, &err) == INPAINT_STATUS_RUNTIME);
    CHECK(model == NULL);
    CHECK(err != NULL && inpaint_error_status(err) == INPAINT_STATUS_RUNTIME);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "weights need") != NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "the memory limit given") != NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "unet") != NULL);
    inpaint_error_free(err);
    /* Enough for the UNet and the largest other graph: refused, pointing at on-demand
     * stages ... */
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_BYTES, on_demand, NULL) ==
          INPAINT_STATUS_OK);
    CHECK(load_pipeline(onnx_dir, "sdxl-tiny-inpaint", opts, &model, &err) == INPAINT_STATUS_RUNTIME);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "only while they run") != NULL);
    inpaint_error_free(err);
    /* ... which then loads (test_sdxl). */
    inpaint_model_options_free(opts);
}

/* Run options for the tiny pipelines: a prompt, `sampler`, two steps without guidance (the
 * Rust tests match guidance against diffusers), `seed`. */
static inpaint_run_options *pipeline_run_options(const char *sampler, uint64_t seed) {
    inpaint_run_options *run = inpaint_run_options_new();
    CHECK(run != NULL);
    CHECK(inpaint_run_options_set_prompt(run, "a red bench", NULL, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_sampler(run, sampler, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_steps(run, 2) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_guidance_scale(run, 1.0f) == INPAINT_STATUS_OK);
    CHECK(inpaint_run_options_set_seed(run, seed) == INPAINT_STATUS_OK);
    return run;
}

/* Inpaints the test image's hole with `model` and `run` into `out` (W*H*3 bytes) and checks
 * that the pixels outside the hole are the input's and something inside was painted; returns
 * whether the run succeeded. */
static int inpaint_hole(inpaint_model *model, const inpaint_run_options *run, uint8_t *out) {
    uint8_t image[W * H * 3], mask[W * H];
    make_image(image, W * 3, 3);
    make_mask(mask, W);
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    inpaint_error *err = NULL;
    uint32_t status = inpaint_model_run_with_options(model, &iv, &mv, run, out, W * H * 3, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (status != INPAINT_STATUS_OK) {
        fprintf(stderr, "run: %s\n", err ? inpaint_error_message(err) : "?");
        inpaint_error_free(err);
        return 0;
    }
    check_only_the_hole_changed(out, image);
    return 1;
}

/* Outpaints the test image by 12 pixels on the right and 8 below with `model`: the result is
 * the canvas, the image's pixels are kept, and the new ones are painted (not all left as the
 * repeated border the model was handed). */
static void outpaint(inpaint_model *model) {
    enum { OW = W + 12, OH = H + 8 };
    uint8_t image[W * H * 3], mask[W * H], out[OW * OH * 3];
    make_image(image, W * 3, 3);
    memset(mask, 0, sizeof mask); /* not used when outpainting */
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    inpaint_run_options *run = pipeline_run_options("Euler", 3);
    CHECK(inpaint_run_options_set_extender(run, 0, 0, OW, OH, NULL) == INPAINT_STATUS_OK);
    uint32_t ow = 0, oh = 0;
    CHECK(inpaint_run_options_output_size(run, W, H, &ow, &oh, NULL) == INPAINT_STATUS_OK);
    CHECK(ow == OW && oh == OH);
    inpaint_error *err = NULL;
    uint32_t status = inpaint_model_run_with_options(model, &iv, &mv, run, out, sizeof out, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (status != INPAINT_STATUS_OK) {
        fprintf(stderr, "outpaint: %s\n", err ? inpaint_error_message(err) : "?");
        inpaint_error_free(err);
        inpaint_run_options_free(run);
        return;
    }
    int kept = 1;
    unsigned painted = 0;
    for (unsigned y = 0; y < OH; y++)
        for (unsigned x = 0; x < OW; x++) {
            const uint8_t *got = out + (y * OW + x) * 3;
            unsigned bx = x < W ? x : W - 1, by = y < H ? y : H - 1; /* the border pixel */
            if (x < W && y < H) kept &= memcmp(got, image + (y * W + x) * 3, 3) == 0;
            else painted += memcmp(got, image + (by * W + bx) * 3, 3) != 0;
        }
    CHECK(kept);
    CHECK(painted > (OW * OH - W * H) / 2);
    inpaint_run_options_free(run);
}

/* The tiny SDXL inpainting pipeline (9-channel UNet, two text encoders) through the C API:
 * every sampler keeps the pixels outside the hole, and the samplers' results differ;
 * outpainting; and a model loaded with its stages on demand, ONNX Runtime's CPU arena off
 * and a memory limit that holds only the UNet and the largest other graph gives the same
 * bytes as the default model for the same seed (with "Euler a", which draws noise at every
 * step). */
static void test_sdxl(const char *onnx_dir) {
    inpaint_model *model = NULL;
    inpaint_error *err = NULL;
    uint32_t status = load_pipeline(onnx_dir, "sdxl-tiny-inpaint", NULL, &model, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (status != INPAINT_STATUS_OK) {
        fprintf(stderr, "sdxl-tiny-inpaint: %s\n", err ? inpaint_error_message(err) : "?");
        inpaint_error_free(err);
        return;
    }
    CHECK(inpaint_model_needs(model) == INPAINT_NEEDS_PROMPT);
    CHECK(strncmp(inpaint_model_device(model), "cpu", 3) == 0);
    static uint8_t outs[SAMPLER_COUNT][W * H * 3];
    uint8_t again[W * H * 3];
    int ran = 0, distinct = 0, euler_a = -1;
    for (int i = 0; i < SAMPLER_COUNT; i++) {
        inpaint_run_options *run = pipeline_run_options(SAMPLERS[i], 7);
        if (inpaint_hole(model, run, outs[ran])) {
            int seen = 0;
            for (int j = 0; j < ran; j++) seen |= memcmp(outs[j], outs[ran], sizeof again) == 0;
            distinct += !seen;
            if (strcmp(SAMPLERS[i], "Euler a") == 0) euler_a = ran;
            ran++;
        }
        inpaint_run_options_free(run);
    }
    printf("sdxl: %d samplers, %d distinct results\n", ran, distinct);
    CHECK(ran == SAMPLER_COUNT);
    /* Two steps from one seed: many samplers take the same first steps, but not most. */
    CHECK(distinct >= SAMPLER_COUNT / 3);

    outpaint(model);
    inpaint_model_free(model);

    inpaint_model_options *opts = inpaint_model_options_new();
    CHECK(inpaint_model_options_set_load_stages_on_demand(opts, true) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_cpu_arena(opts, false) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_memory_limit(opts, INPAINT_MEMORY_LIMIT_BYTES,
                                                 on_demand_bytes(onnx_dir, "sdxl-tiny-inpaint"),
                                                 NULL) == INPAINT_STATUS_OK);
    inpaint_run_options *run = pipeline_run_options("Euler a", 7);
    CHECK(euler_a >= 0);
    status = load_pipeline(onnx_dir, "sdxl-tiny-inpaint", opts, &model, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (status == INPAINT_STATUS_OK) {
        if (euler_a >= 0 && inpaint_hole(model, run, again))
            CHECK(memcmp(outs[euler_a], again, sizeof again) == 0);
        inpaint_model_free(model);
    } else {
        fprintf(stderr, "on demand, no arena: %s\n", err ? inpaint_error_message(err) : "?");
        inpaint_error_free(err);
    }
    inpaint_model_options_free(opts);
    inpaint_run_options_free(run);
}

/* The key scripts/test-c.sh gives the fake server and this program (OPENAI_API_KEY). */
static const char *api_key(void) {
    const char *key = getenv("OPENAI_API_KEY");
    CHECK(key != NULL && strlen(key) > 8);
    return key ? key : "(unset)";
}

/* "openai-compat" against tests/c/fake_openai.py at `server` ("http://127.0.0.1:PORT"): each
 * base URL below is a route of the fake (see its docstring). `ledger` is a fresh file. */
static void test_openai(const char *server, const char *ledger) {
    char url[512];
    inpaint_model *model = NULL;
    inpaint_error *err = NULL;
    size_t index = inpaint_model_name_count();
    for (size_t i = 0; i < inpaint_model_name_count(); i++)
        if (strcmp(inpaint_model_name_at(i), "openai-compat") == 0) index = i;
    if (index == inpaint_model_name_count()) {
        /* A build without the `openai` feature: not listed, and not loadable. */
        CHECK(inpaint_model_load("openai-compat", NULL, &model, NULL) == INPAINT_STATUS_UNSUPPORTED);
        return;
    }
    CHECK(inpaint_model_needs_at(index) == (INPAINT_NEEDS_PROMPT | INPAINT_NEEDS_NETWORK));
    CHECK(inpaint_model_needs_at(inpaint_model_name_count()) == 0);
    CHECK(strcmp(inpaint_status_str(INPAINT_STATUS_BUDGET), "unknown status") != 0);
    const char *key = api_key();

    /* Its settings are refused by other models, and its model options by it. */
    inpaint_model_options *opts = inpaint_model_options_new();
    CHECK(opts != NULL);
    snprintf(url, sizeof url, "%s/ok/v1", server);
    CHECK(inpaint_model_options_set_openai_base_url(opts, url, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("telea", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "openai-compat only") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_options_set_budget_cap(opts, "week", 1.0, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "session, day, month") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_model_options_set_budget_cap(opts, "day", -1.0, NULL) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(inpaint_model_options_set_budget_cap(opts, NULL, 1.0, NULL) == INPAINT_STATUS_NULL_PARAMETER);
    CHECK(inpaint_model_options_set_openai_model(NULL, "dall-e-2", NULL) == INPAINT_STATUS_NULL_PARAMETER);
    inpaint_model_options *with_radius = inpaint_model_options_new();
    CHECK(inpaint_model_options_set_radius(with_radius, 3.0) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("openai-compat", with_radius, &model, NULL) == INPAINT_STATUS_INVALID_INPUT);
    inpaint_model_options_free(with_radius);

    /* A model the price table does not list: refused when loading. */
    CHECK(inpaint_model_options_set_openai_model(opts, "no-such-model", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_budget_db(opts, ledger, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("openai-compat", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "dall-e-2") != NULL);
    inpaint_error_free(err);

    /* Loaded, and run with a prompt: the fake answers a solid colour inside the mask. */
    CHECK(inpaint_model_options_set_openai_model(opts, "dall-e-2", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_openai_timeout(opts, 30.0) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_budget_cap(opts, "day", 2.5, NULL) == INPAINT_STATUS_OK);
    uint32_t status = inpaint_model_load("openai-compat", opts, &model, &err);
    CHECK(status == INPAINT_STATUS_OK);
    if (status != INPAINT_STATUS_OK) {
        fprintf(stderr, "openai-compat: %s\n", err ? inpaint_error_message(err) : "?");
        inpaint_error_free(err);
        inpaint_model_options_free(opts);
        return;
    }
    CHECK(strcmp(inpaint_model_name(model), "openai-compat") == 0);
    CHECK(strncmp(inpaint_model_device(model), "remote:http://127.0.0.1:", 24) == 0);
    CHECK(inpaint_model_needs(model) == (INPAINT_NEEDS_PROMPT | INPAINT_NEEDS_NETWORK));

    enum { N = W * H * 3 };
    uint8_t image[N], mask[W * H], out[N];
    make_image(image, W * 3, 3);
    make_mask(mask, W);
    inpaint_image_view iv = {image, sizeof image, W, H, W * 3, INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mv = {mask, sizeof mask, W, H, W, INPAINT_PIXEL_FORMAT_GRAY8};
    inpaint_run_options *run = inpaint_run_options_new();
    CHECK(inpaint_run_options_set_prompt(run, "a red bench", NULL, NULL) == INPAINT_STATUS_OK);
    for (int round = 0; round < 2; round++) { /* the second is de-duplicated: no request */
        memset(out, 0, sizeof out);
        status = inpaint_model_run_with_options(model, &iv, &mv, run, out, sizeof out, &err);
        CHECK(status == INPAINT_STATUS_OK);
        if (status != INPAINT_STATUS_OK) {
            fprintf(stderr, "openai-compat run: %s\n", err ? inpaint_error_message(err) : "?");
            inpaint_error_free(err);
            continue;
        }
        int outside_same = 1, inside_painted = 1;
        for (unsigned y = 0; y < H; y++)
            for (unsigned x = 0; x < W; x++) {
                const uint8_t *got = out + (y * W + x) * 3, *was = image + (y * W + x) * 3;
                if (in_hole(x, y))
                    inside_painted &= abs(got[0] - 10) <= 2 && abs(got[1] - 200) <= 2 && abs(got[2] - 30) <= 2;
                else
                    outside_same &= memcmp(got, was, 3) == 0;
            }
        CHECK(outside_same);
        CHECK(inside_painted);
    }
    /* Without the prompt the fake refuses (HTTP 400, naming the prompt it got): a model error. */
    CHECK(inpaint_model_run(model, &iv, &mv, out, sizeof out, &err) == INPAINT_STATUS_MODEL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "wrong prompt") != NULL);
    inpaint_error_free(err);
    /* The images API has no negative prompt: refused, not ignored. */
    CHECK(inpaint_run_options_set_prompt(run, "a red bench", "blurry", NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_run_with_options(model, &iv, &mv, run, out, sizeof out, &err) ==
          INPAINT_STATUS_INVALID_INPUT);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "negative prompt") != NULL);
    inpaint_error_free(err);
    CHECK(inpaint_run_options_set_prompt(run, "a red bench", NULL, NULL) == INPAINT_STATUS_OK);
    inpaint_model_free(model);

    /* A refused key (HTTP 401): a model error that never quotes the key, though the server did. */
    snprintf(url, sizeof url, "%s/unauthorized/v1", server);
    CHECK(inpaint_model_options_set_openai_base_url(opts, url, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("openai-compat", opts, &model, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_run_with_options(model, &iv, &mv, run, out, sizeof out, &err) == INPAINT_STATUS_MODEL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "401") != NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), key) == NULL);
    inpaint_error_free(err);
    inpaint_model_free(model);

    /* A session cap below the estimate: refused before anything is sent (the fake's /fail
     * route would answer 500, and the script checks it got nothing), naming the cap. */
    snprintf(url, sizeof url, "%s/fail/v1", server);
    CHECK(inpaint_model_options_set_openai_base_url(opts, url, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_options_set_budget_cap(opts, "session", 0.001, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_load("openai-compat", opts, &model, NULL) == INPAINT_STATUS_OK);
    CHECK(inpaint_model_run_with_options(model, &iv, &mv, run, out, sizeof out, &err) == INPAINT_STATUS_BUDGET);
    CHECK(err != NULL && inpaint_error_status(err) == INPAINT_STATUS_BUDGET);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "session cap") != NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "nothing was sent") != NULL);
    inpaint_error_free(err);
    inpaint_model_free(model);

    /* No key in the environment: refused when loading, saying where the key comes from. */
    char saved[256];
    snprintf(saved, sizeof saved, "%s", key);
    CHECK(unsetenv("OPENAI_API_KEY") == 0 && unsetenv("INPAINT_OPENAI_API_KEY") == 0);
    CHECK(inpaint_model_load("openai-compat", opts, &model, &err) == INPAINT_STATUS_INVALID_INPUT);
    CHECK(model == NULL);
    CHECK(err != NULL && strstr(inpaint_error_message(err), "OPENAI_API_KEY") != NULL);
    inpaint_error_free(err);
    CHECK(setenv("OPENAI_API_KEY", saved, 1) == 0);

    inpaint_run_options_free(run);
    inpaint_model_options_free(opts);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--no-pipelines") != 0)) {
        fprintf(stderr,
                "usage: %s ONNX_FIXTURE_DIR FAKE_OPENAI_URL LEDGER [--no-pipelines]\n"
                "  ONNX_FIXTURE_DIR: inpaint-models/tests/fixtures/onnx\n"
                "  FAKE_OPENAI_URL: http://127.0.0.1:PORT of tests/c/fake_openai.py\n"
                "  LEDGER: a budget ledger file that does not exist yet\n"
                "  --no-pipelines: do not run the diffusion pipelines (valgrind: minutes each)\n",
                argv[0]);
        return 2;
    }
    int run_pipelines = argc == 4;
    test_version();
    test_status_str();
    test_load();
    test_run();
    test_rgba();
    test_onnx(argv[1]);
    test_diffusion_options(argv[1]);
    test_diffusion_memory_options(argv[1]);
    if (run_pipelines) test_sdxl(argv[1]);
    test_openai(argv[2], argv[3]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
