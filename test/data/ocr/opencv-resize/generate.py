#!/usr/bin/env python3
"""Reference outputs of OpenCV's cv2.resize(INTER_LINEAR) on 8-bit images, for checking that
slimc's resizeBilinear reproduces them byte for byte. Optional: the committed .npy files are the
reference and the tests read them without Python. Regenerate with Debian's python3-opencv:

    /usr/bin/python3 test/data/ocr/opencv-resize/generate.py

Writes source.npy (a deterministic random 47x61x3 uint8 image, plus a smooth gradient in its
first channel so interpolation weights matter) and resized-<H>x<W>.npy for each target size.
"""
import os
import cv2
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240601)
src = rng.integers(0, 256, size=(47, 61, 3), dtype=np.uint8)
yy, xx = np.mgrid[0:47, 0:61]
src[:, :, 0] = ((xx * 4 + yy * 3) % 256).astype(np.uint8)
np.save(os.path.join(here, 'source.npy'), src)
# up and down, integer and awkward ratios, one axis only, degenerate sizes
for h, w in [(48, 320), (48, 61), (47, 100), (23, 30), (20, 27), (94, 122), (13, 61), (48, 17), (1, 1), (100, 7)]:
    np.save(os.path.join(here, f'resized-{h}x{w}.npy'), cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR))
print(f'opencv {cv2.__version__}: wrote references to {here}')
