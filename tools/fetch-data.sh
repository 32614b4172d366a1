#!/usr/bin/env bash
# Downloads the four IDX .gz files of MNIST or Fashion-MNIST from the public mirrors torchvision
# and Keras use, verifies each against its published sha256, and only then moves it into place.
# A download goes to NAME.part first (resumed with curl -C - when a previous run was interrupted);
# a file that fails verification is deleted, never left where train_gpu would read it.
set -euo pipefail

readonly program="fetch-data.sh"

usage() {
  cat <<'EOF'
Usage: tools/fetch-data.sh [--dataset mnist|fashion-mnist] [--source URL_OR_DIR] [DEST_DIR]

Downloads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz into DEST_DIR (default: data/<dataset>), checks each file's sha256
against the published value, and skips files already present and verified.

Options:
  --dataset NAME       mnist (default) or fashion-mnist
  --source URL_OR_DIR  fetch from this base URL (http, https, file://) or local directory
                       instead of the public mirrors
  -h, --help           show this help

Mirrors tried in order:
  mnist:          https://ossci-datasets.s3.amazonaws.com/mnist/
                  https://storage.googleapis.com/cvdf-datasets/mnist/
  fashion-mnist:  http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/
                  https://storage.googleapis.com/tensorflow/tf-keras-datasets/
EOF
}

die() {
  echo "$program: error: $*" >&2
  exit 1
}

dataset="mnist"
source=""
dest=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --dataset) [ $# -ge 2 ] || die "--dataset needs a value: mnist or fashion-mnist"; dataset="$2"; shift 2 ;;
    --dataset=*) dataset="${1#*=}"; shift ;;
    --source) [ $# -ge 2 ] || die "--source needs a URL or directory"; source="$2"; shift 2 ;;
    --source=*) source="${1#*=}"; shift ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$dest" ] || die "more than one destination directory given: '$dest' and '$1'"; dest="$1"; shift ;;
  esac
done

files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# Published sha256 of each file, in the order of `files`; several per file where verified
# repackagings exist (see expected_sums).
case "$dataset" in
  mnist)
    mirrors=(https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/)
    sums=(
      440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
      3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
      8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
      f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
    )
    ;;
  fashion-mnist)
    mirrors=(http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/
      https://storage.googleapis.com/tensorflow/tf-keras-datasets/)
    # Zalando's files (the sums Keras pins), then the Debian package dataset-fashion-mnist's copies
    # (/usr/share/datasets/fashion-mnist): the same deflate streams under a gzip header without
    # the file name, so the same images and labels.
    sums=(
      "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84 b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
      "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
      "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073 cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
      "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
    )
    ;;
  *) die "unknown dataset '$dataset': expected mnist or fashion-mnist" ;;
esac
[ -n "$dest" ] || dest="data/$dataset"
if [ -n "$source" ]; then
  case "$source" in
    http://* | https://*) ;;
    *) [ -d "${source#file://}" ] || die "--source $source: no such directory (give a directory with the four .gz files, or an http(s) URL)" ;;
  esac
  mirrors=("$source")
fi

if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum found; install coreutils"
fi

# 0 when file $1 has one of the sums in $2 (space-separated).
verified() {
  local actual expected
  actual="$(sha256_of "$1")"
  for expected in $2; do
    [ "$actual" = "$expected" ] && return 0
  done
  return 1
}

# Copies or downloads $1/$2 into $3 (a .part file). Local directories and file:// URLs are copied
# (this is also how the tests run offline); http(s) goes through curl, resuming a partial file.
fetch_one() {
  local base="$1" name="$2" part="$3"
  case "$base" in
    file://*) base="${base#file://}" ;;
  esac
  case "$base" in
    http://* | https://*)
      command -v curl >/dev/null 2>&1 || die "curl not found: install curl, or pass --source DIR with the files"
      curl --fail --location --silent --show-error --continue-at - --retry 3 --retry-delay 2 \
        --connect-timeout 20 --output "$part" "${base%/}/$name"
      ;;
    *)
      [ -e "$base/$name" ] || { echo "$program: $base/$name: no such file" >&2; return 1; }
      cp -- "$base/$name" "$part" && chmod u+w -- "$part"
      ;;
  esac
}

mkdir -p -- "$dest" || die "cannot create destination directory '$dest'"
failures=0
for index in "${!files[@]}"; do
  name="${files[$index]}"
  expected="${sums[$index]}"
  target="$dest/$name"
  part="$target.part"
  if [ -f "$target" ] && verified "$target" "$expected"; then
    echo "$name: already present, verified"
    continue
  fi
  if [ -e "$target" ]; then
    echo "$program: $target: present but its sha256 matches no published value; fetching it again" >&2
  fi
  done_ok=0
  for base in "${mirrors[@]}"; do
    echo "$name: fetching from $base"
    if ! fetch_one "$base" "$name" "$part"; then
      # A .part left complete by an interrupted run makes the server refuse the resume range.
      if ! { [ -f "$part" ] && verified "$part" "$expected"; }; then
        echo "$program: $name: could not fetch from $base" >&2
        continue
      fi
    fi
    if verified "$part" "$expected"; then
      mv -f -- "$part" "$target"
      echo "$name: verified (sha256 $(sha256_of "$target"))"
      done_ok=1
      break
    fi
    echo "$program: $name from $base: sha256 $(sha256_of "$part") matches no published value; discarded" >&2
    rm -f -- "$part"
  done
  if [ "$done_ok" -ne 1 ]; then
    rm -f -- "$part"
    # An unverified older copy must not stay where train_gpu would read it.
    if [ -e "$target" ] && ! verified "$target" "$expected"; then rm -f -- "$target"; fi
    echo "$program: error: $name: no verified copy from ${mirrors[*]}" >&2
    failures=$((failures + 1))
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "$program: error: $failures of ${#files[@]} files could not be fetched and verified into $dest" >&2
  exit 1
fi
echo "$dataset: all ${#files[@]} files verified in $dest"
