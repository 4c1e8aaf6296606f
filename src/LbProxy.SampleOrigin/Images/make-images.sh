#!/usr/bin/env bash
# Regenerates the sample origin's images (kept in the repository; the build does not run this).
# Needs Debian's imagemagick, webp and libavif-bin. Output is deterministic for a given tool version.
set -euo pipefail
cd "$(dirname "$0")"
IM=/usr/bin/convert
# small: a 240x180 swirled gradient with light noise, a few KB in each format
$IM -size 240x180 gradient:'#1e88e5-#fdd835' -swirl 180 \( -size 240x180 xc:gray50 -seed 7 +noise Gaussian -blur 0x1.5 \) \
    -compose softlight -composite -strip sample.png
$IM sample.png -quality 92 -sampling-factor 4:2:0 -strip sample.jpg
cwebp -quiet -q 95 -metadata none sample.png -o sample.webp
avifenc -j 1 -s 6 --min 4 --max 12 --ignore-exif --ignore-xmp sample.png sample.avif >/dev/null
# large: about 100 KB as JPEG; seeded noise over a gradient so it does not compress away
$IM -size 640x480 gradient:'#43a047-#8e24aa' \( -size 640x480 xc: -seed 42 +noise Random -blur 0x0.6 \) \
    -compose softlight -composite -strip large.png
$IM large.png -quality 88 -strip large.jpg
cwebp -quiet -q 75 -metadata none large.png -o large.webp
avifenc -j 1 -s 6 --min 20 --max 40 --ignore-exif --ignore-xmp large.png large.avif >/dev/null
rm -f sample.png large.png
ls -l sample.* large.*
