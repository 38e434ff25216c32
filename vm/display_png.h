/*
 * vm/display_png.h — writes 0xRRGGBB pixels as an 8-bit RGB PNG (zlib's
 * deflate for the image data), for --screendump.
 */
#ifndef BTVM_VM_DISPLAY_PNG_H
#define BTVM_VM_DISPLAY_PNG_H

#include <stdint.h>

/* 0, or -errno (the file could not be written) / -ENOMEM / -EINVAL. */
int vm_png_write(const char *path, const uint32_t *px, unsigned w, unsigned h);

/* The same as binary PPM (P6, maxval 255; the format of QEMU's monitor
 * command screendump), for comparing screens byte for byte. */
int vm_ppm_write(const char *path, const uint32_t *px, unsigned w, unsigned h);

#endif
