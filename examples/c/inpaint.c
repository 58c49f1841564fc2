/* Inpaints a photo through the C API: fills the white part of a mask from the rest of the image.
 *
 *   ./inpaint --image IN --mask MASK --output OUT [--model NAME]
 *
 * Reads what stb_image reads (PNG, JPEG, BMP, ...); writes PNG, or JPEG when OUT ends in .jpg
 * or .jpeg. The mask is white (> 127) where the image is to be filled. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <inpaint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE = "usage: inpaint --image IN --mask MASK --output OUT [--model NAME]";

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Prints a failed call's status and message, and frees the error. */
static int fail(const char *what, uint32_t status, inpaint_error *err) {
    fprintf(stderr, "error: %s: %s (status %u)\n", what,
            err ? inpaint_error_message(err) : inpaint_status_str(status), (unsigned)status);
    inpaint_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    const char *image_path = NULL, *mask_path = NULL, *out_path = NULL, *model_name = "patchmatch";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "error: %s needs a value\n%s\n", argv[i], USAGE);
            return 2;
        }
        const char *value = argv[++i];
        if (strcmp(argv[i - 1], "--image") == 0) image_path = value;
        else if (strcmp(argv[i - 1], "--mask") == 0) mask_path = value;
        else if (strcmp(argv[i - 1], "--output") == 0) out_path = value;
        else if (strcmp(argv[i - 1], "--model") == 0) model_name = value;
        else {
            fprintf(stderr, "error: unknown argument `%s`\n%s\n", argv[i - 1], USAGE);
            return 2;
        }
    }
    if (!image_path || !mask_path || !out_path) {
        fprintf(stderr, "error: --image, --mask and --output are required\n%s\n", USAGE);
        return 2;
    }

    int width, height, channels, mw, mh, mc;
    if (!stbi_info(image_path, &width, &height, &channels)) {
        fprintf(stderr, "error: %s: %s\n", image_path, stbi_failure_reason());
        return 1;
    }
    /* Keep an alpha channel (grey+alpha or RGBA) as RGBA; everything else as RGB. */
    int bpp = (channels == 2 || channels == 4) ? 4 : 3;
    unsigned char *image = stbi_load(image_path, &width, &height, &channels, bpp);
    unsigned char *mask = stbi_load(mask_path, &mw, &mh, &mc, 1);
    if (!image || !mask) {
        fprintf(stderr, "error: %s: %s\n", image ? mask_path : image_path, stbi_failure_reason());
        stbi_image_free(image);
        stbi_image_free(mask);
        return 1;
    }

    size_t row = (size_t)width * (size_t)bpp, out_len = row * (size_t)height;
    inpaint_image_view image_view = {image, out_len, (uint32_t)width, (uint32_t)height, row,
                                     bpp == 4 ? INPAINT_PIXEL_FORMAT_RGBA8 : INPAINT_PIXEL_FORMAT_RGB8};
    inpaint_image_view mask_view = {mask, (size_t)mw * (size_t)mh, (uint32_t)mw, (uint32_t)mh,
                                    (size_t)mw, INPAINT_PIXEL_FORMAT_GRAY8};
    unsigned char *out = malloc(out_len);
    inpaint_model *model = NULL;
    inpaint_error *err = NULL;
    int rc = 0;
    uint32_t status;
    if (!out) {
        fprintf(stderr, "error: out of memory\n");
        rc = 1;
    } else if ((status = inpaint_model_load_classical(model_name, &model, &err)) != INPAINT_STATUS_OK) {
        rc = fail("loading the model", status, err);
    } else if ((status = inpaint_model_run(model, &image_view, &mask_view, out, out_len, &err)) !=
               INPAINT_STATUS_OK) {
        rc = fail("inpainting", status, err);
    } else {
        int ok = (ends_with(out_path, ".jpg") || ends_with(out_path, ".jpeg"))
                     ? stbi_write_jpg(out_path, width, height, bpp, out, 95)
                     : stbi_write_png(out_path, width, height, bpp, out, (int)row);
        if (!ok) {
            fprintf(stderr, "error: %s: cannot write\n", out_path);
            rc = 1;
        } else {
            printf("%s: %dx%d inpainted with %s (inpaint %s, on %s)\n", out_path, width, height,
                   inpaint_model_name(model), inpaint_version(), inpaint_model_device(model));
        }
    }
    inpaint_model_free(model);
    free(out);
    stbi_image_free(image);
    stbi_image_free(mask);
    return rc;
}
