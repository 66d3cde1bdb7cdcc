#!/usr/bin/env bash
# Renders the OCR evaluation and calibration images committed beside this script.
#
#   test/data/ocr/generate.sh [OUT_DIR]        (default: the directory of this script)
#
# Needs ImageMagick 6 or 7 and the fonts below (Debian: apt-get install -y imagemagick
# fonts-dejavu-core fonts-wqy-microhei). Without the CJK font the Chinese lines are left out.
# Output, all deterministic for a given ImageMagick build (a seeded LCG picks every choice and
# `-seed` fixes ImageMagick's noise):
#
#   calib/         64 text lines, PNG, height 48              labels.tsv: file<TAB>text
#   eval/          200 text lines, PNG, height 48             labels.tsv: file<TAB>text
#   eval-rotated/  every other eval line turned 180 degrees   labels.tsv: file<TAB>text
#   det/           12 document-like pages (JPEG, sides multiples of 32)
#                  boxes.tsv: file<TAB>x<TAB>y<TAB>width<TAB>height<TAB>text, one row per drawn line,
#                  the tight box of the rendered glyphs in page pixels
#   det-calib/     6 more pages of the same kind, for calibrating the detector (boxes.tsv likewise)
#
# A line is 1-3 tokens drawn from fixed lists: English words (lower, Capitalized, UPPER, mixed case),
# integers, prices, dates, times, codes, and some Chinese words whose characters are all in
# PaddleOCR's ppocr_keys_v1.txt. Fonts vary over DejaVu Sans/Serif/Mono (regular and bold) and
# WenQuanYi Micro Hei; size, a slight rotation, Gaussian noise, blur and polarity (dark on light or
# light on dark) vary per line, and about 3 lines in 10 are made hard (low contrast, heavy noise and
# blur, or low resolution). calib and eval share no text. Every line fits the recognizer's
# 48x320 input without squeezing (its width at height 48 is at most 320).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}

if command -v magick >/dev/null 2>&1; then IM=(magick); IDENTIFY=(magick identify)
elif [ -x /usr/bin/convert ]; then IM=(/usr/bin/convert); IDENTIFY=(/usr/bin/identify)
else echo "generate.sh: ImageMagick not found (apt-get install -y imagemagick)" >&2; exit 1; fi
"${IM[@]}" -version | grep -q ImageMagick || { echo "generate.sh: ${IM[*]} is not ImageMagick" >&2; exit 1; }

fontdir=/usr/share/fonts/truetype
latin_fonts=(
  "$fontdir/dejavu/DejaVuSans.ttf" "$fontdir/dejavu/DejaVuSans-Bold.ttf"
  "$fontdir/dejavu/DejaVuSerif.ttf" "$fontdir/dejavu/DejaVuSerif-Bold.ttf"
  "$fontdir/dejavu/DejaVuSansMono.ttf" "$fontdir/dejavu/DejaVuSansMono-Bold.ttf"
)
for f in "${latin_fonts[@]}"; do [ -f "$f" ] || { echo "generate.sh: missing font $f (apt-get install -y fonts-dejavu-core)" >&2; exit 1; }; done
cjk_font="$fontdir/wqy/wqy-microhei.ttc"
[ -f "$cjk_font" ] || { echo "generate.sh: no CJK font ($cjk_font): Chinese lines left out" >&2; cjk_font=""; }

# ---- deterministic choices: a 31-bit LCG (same sequence in every bash, unlike $RANDOM) ----
lcg_state=20240601
# rand N: sets R to a value in [0, N).
rand() { lcg_state=$(( (lcg_state * 1103515245 + 12345) % 2147483648 )); R=$(( (lcg_state >> 8) % $1 )); }
# pick ARRAY_NAME: sets P to a random element.
pick() { local -n arr=$1; rand ${#arr[@]}; P=${arr[$R]}; }

words=(
  apple river window garden market station paper coffee orange yellow silver winter summer morning
  evening street bridge island mountain forest planet rocket signal number letter office ticket
  receipt invoice total amount change credit balance account payment order delivery address phone
  email customer service table chair bottle glass water bread butter cheese sugar salt pepper
  lemon banana cherry grape melon tomato potato onion carrot rice noodle soup salad pizza burger
  hotel airport train flight gate seat room floor door key card bank cash price sale discount
  open closed exit entrance parking north south east west left right center stop wait slow fast
  quick brown fox jumps lazy dog hello world music movie camera screen mobile laptop cable power
  battery charger monday tuesday friday sunday january march august october december
)
mixed_words=(iPhone eBay McDonald JavaScript PayPal YouTube LinkedIn GitHub WiFi OpenAI PowerPoint iPad USB-C TypeScript)
cjk_words=(中国 北京 上海 价格 发票 合计 日期 你好 世界 电话 地址 金额 商品 数量 单价 总计 编码 年月 号码 国家 上海市 北京市)

# token: sets TOKEN to one random token.
token() {
  rand 20
  local kind=$R
  if [ $kind -lt 7 ]; then pick words; TOKEN=$P
  elif [ $kind -lt 9 ]; then pick words; TOKEN="${P^}"
  elif [ $kind -lt 10 ]; then pick words; TOKEN="${P^^}"
  elif [ $kind -lt 11 ]; then pick mixed_words; TOKEN=$P
  elif [ $kind -lt 13 ]; then rand 5; local digits=$((R + 1)); rand $((10 ** digits)); TOKEN=$R
  elif [ $kind -lt 15 ]; then
    rand 1000; local whole=$R; rand 100; local cents; cents=$(printf %02d $R)
    rand 3
    case $R in 0) TOKEN="\$$whole.$cents" ;; 1) TOKEN="¥$whole.$cents" ;; *) TOKEN="$whole.$cents" ;; esac
  elif [ $kind -lt 17 ]; then
    rand 30; local y=$((1995 + R)); rand 12; local m; m=$(printf %02d $((R + 1))); rand 28; local d; d=$(printf %02d $((R + 1)))
    rand 3
    case $R in 0) TOKEN="$y-$m-$d" ;; 1) TOKEN="$d/$m/$y" ;; *) TOKEN="$y.$m.$d" ;; esac
  elif [ $kind -lt 18 ]; then rand 24; local h=$R; rand 60; TOKEN=$(printf '%02d:%02d' $h $R)
  elif [ $kind -lt 19 ]; then
    local letters=ABCDEFGHJKLMNPRSTUVWXYZ; rand 23; local a=${letters:$R:1}; rand 23; local b=${letters:$R:1}
    rand 9000; TOKEN="$a$b-$((R + 1000))"
  else rand 500; TOKEN="No.$((R + 1))"; fi
}

# line_text MAXCHARS: sets TEXT (and IS_CJK) to a new random line of 1-3 tokens.
line_text() {
  local maxchars=$1
  IS_CJK=0
  rand 10
  if [ -n "$cjk_font" ] && [ $R -eq 0 ]; then
    IS_CJK=1; pick cjk_words; TEXT=$P
    rand 2; if [ $R -eq 0 ]; then rand 1000; TEXT="$TEXT$R"; fi
    return
  fi
  rand 3; local n=$((R + 1)); token; TEXT=$TOKEN
  local i
  for ((i = 1; i < n; i++)); do
    token
    if [ $(( ${#TEXT} + 1 + ${#TOKEN} )) -le "$maxchars" ]; then TEXT="$TEXT $TOKEN"; fi
  done
}

# style: sets FONT, FG, BG, POINTSIZE, ANGLE, NOISE, BLUR, COLORSPACE for one line.
style() {
  if [ "$IS_CJK" = 1 ]; then FONT=$cjk_font; else pick latin_fonts; FONT=$P; fi
  rand 4
  if [ $R -eq 0 ]; then  # light on dark, about a quarter of the lines
    local fgs=('#ffffff' '#f0f0e0' '#e8f0ff' '#ffff80'); local bgs=('#202020' '#1a2a4a' '#3a1010' '#304030')
  else
    local fgs=('#000000' '#202020' '#101060' '#602010' '#303030'); local bgs=('#ffffff' '#f4f4f0' '#e8e8e0' '#fff8e0' '#e0ecf8')
  fi
  pick fgs; FG=$P; pick bgs; BG=$P
  rand 17; POINTSIZE=$((26 + R))
  rand 31; local tenths=$((R - 15)) sign=''
  if [ $tenths -lt 0 ]; then sign=-; tenths=$((-tenths)); fi
  ANGLE="$sign$((tenths / 10)).$((tenths % 10))"
  rand 5; NOISE=$(printf '0.%d' $((R + 1)))
  rand 6; BLUR=$(printf '0.%d' $((R + 3)))
  rand 2; if [ $R -eq 0 ]; then COLORSPACE=Gray; else COLORSPACE=sRGB; fi
  # About 3 lines in 10 are hard: low contrast, heavy noise and blur, or low resolution (rendered
  # small, then scaled up to 48). These put the recognizer near its decision boundaries, where a
  # compressed model is most likely to read differently.
  rand 10
  case $R in
    7)
      local low_fgs=('#707070' '#6a6a80' '#8a7a6a'); local low_bgs=('#b8b8b8' '#b0b8c4' '#c8c0a8')
      pick low_fgs; FG=$P; pick low_bgs; BG=$P ;;
    8) rand 5; NOISE="1.$R"; rand 5; BLUR="1.$R" ;;
    9) rand 4; POINTSIZE=$((10 + R)) ;;
  esac
}

# Escapes ImageMagick's label: syntax (% starts an escape).
label_arg() { local t=${1//%/%%}; printf 'label:%s' "$t"; }

seed=1
# render_line FILE: renders TEXT in the current style to a PNG of height 48; sets WIDTH.
render_line() {
  local file=$1
  seed=$((seed + 1))
  local padx=$((POINTSIZE / 3)) pady=$((POINTSIZE / 4))
  "${IM[@]}" -background "$BG" -fill "$FG" -font "$FONT" -pointsize "$POINTSIZE" "$(label_arg "$TEXT")" \
    -trim +repage -bordercolor "$BG" -border "${padx}x${pady}" -rotate "$ANGLE" \
    -seed "$seed" -attenuate "$NOISE" +noise Gaussian -blur "0x$BLUR" -resize x48 \
    -colorspace "$COLORSPACE" -depth 8 -strip -define png:exclude-chunks=date,time "$file"
  WIDTH=$("${IDENTIFY[@]}" -format %w "$file")
}

declare -A used_text
# make_lines DIR COUNT: writes COUNT line images and DIR/labels.tsv.
make_lines() {
  local dir=$1 count=$2 i
  mkdir -p "$dir"
  : > "$dir/labels.tsv"
  for ((i = 0; i < count; i++)); do
    local name; name=$(printf 'line-%03d.png' "$i")
    while :; do
      rand 4
      if [ $R -eq 0 ]; then line_text 24; else line_text 16; fi
      [ -n "${used_text[$TEXT]:-}" ] && continue
      style
      render_line "$dir/$name"
      [ "$WIDTH" -le 320 ] && break
    done
    used_text[$TEXT]=1
    printf '%s\t%s\n' "$name" "$TEXT" >> "$dir/labels.tsv"
  done
}

# make_rotated SRC DST: every other line of SRC turned upside down.
make_rotated() {
  local src=$1 dst=$2
  mkdir -p "$dst"
  : > "$dst/labels.tsv"
  local n=0 file text
  while IFS=$'\t' read -r file text; do
    if [ $((n % 2)) -eq 0 ]; then
      "${IM[@]}" "$src/$file" -rotate 180 -depth 8 -strip "$dst/$file"
      printf '%s\t%s\n' "$file" "$text" >> "$dst/labels.tsv"
    fi
    n=$((n + 1))
  done < "$src/labels.tsv"
}

# make_pages DIR COUNT: document-like pages with a few lines each, and DIR/boxes.tsv.
make_pages() {
  local dir=$1 count=$2 p
  local sizes=(640x640 640x480 480x640 512x512 640x384 384x640)
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$dir"
  : > "$dir/boxes.tsv"
  for ((p = 0; p < count; p++)); do
    local name; name=$(printf 'page-%02d.jpg' "$p")
    pick sizes; local size=$P pw=${P%x*} ph=${P#*x}
    local bgs=('#ffffff' '#f6f4ee' '#eef2f6' '#fbf7e8'); pick bgs; local page_bg=$P
    local args=() y margin=16
    rand 24; y=$((margin + R))
    while :; do
      line_text 28
      [ "$IS_CJK" = 1 ] && FONT=$cjk_font || { pick latin_fonts; FONT=$P; }
      local fgs=('#000000' '#202020' '#101060' '#602010'); pick fgs; FG=$P
      rand 18; POINTSIZE=$((18 + R))
      local piece="$tmp/piece-$p-$y.png"
      "${IM[@]}" -background none -fill "$FG" -font "$FONT" -pointsize "$POINTSIZE" "$(label_arg "$TEXT")" -trim +repage "$piece"
      local w h
      read -r w h < <("${IDENTIFY[@]}" -format '%w %h\n' "$piece")
      [ $((y + h + margin)) -gt "$ph" ] && break
      if [ $((w + 2 * margin)) -le "$pw" ]; then
        rand $((pw - w - 2 * margin + 1)); local x=$((margin + R))
        args+=("$piece" -geometry "+$x+$y" -composite)
        printf '%s\t%d\t%d\t%d\t%d\t%s\n' "$name" "$x" "$y" "$w" "$h" "$TEXT" >> "$dir/boxes.tsv"
        rand 40; y=$((y + h + 14 + R))
      fi
    done
    seed=$((seed + 1))
    "${IM[@]}" -size "$size" "xc:$page_bg" "${args[@]}" -seed "$seed" -attenuate 0.3 +noise Gaussian -blur 0x0.4 \
      -strip -quality 88 "$dir/$name"
  done
  rm -rf "$tmp"
}

make_lines "$out/calib" 64
make_lines "$out/eval" 200
make_rotated "$out/eval" "$out/eval-rotated"
make_pages "$out/det" 12
make_pages "$out/det-calib" 6
echo "generate.sh: wrote $(find "$out/calib" "$out/eval" "$out/eval-rotated" "$out/det" "$out/det-calib" -type f | wc -l) files, $(du -sh "$out" | cut -f1) in $out"
