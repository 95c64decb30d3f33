#!/usr/bin/env bash
# Whole-process comparison, on the same input in one run: istio-vault-ca,
# what users would run instead (kustomize build with the equivalent
# strategic-merge patch), and cat as the floor. Prints median wall times,
# peak RSS and the ratios.
#
# Wall time is measured two ways, both printed:
#  - "under time": each command run by /usr/bin/time, which reproduces the
#    performance issue's figure for cat on the install stream (about 3 ms);
#    the wrapper's fork and exec are in every row.
#  - "bare": the command alone, started by this shell.
# The commands' runs are interleaved, so a machine that speeds up or slows
# down during the run moves every row alike. Peak RSS is the largest
# /usr/bin/time saw.
#
# usage: bench-compare.sh TOOL KUSTOMIZE CORPUS_DIR [RUNS]
set -euo pipefail
tool=$1 kustomize=$2 corpus=$3 runs=${4:-51}
here=$(cd "$(dirname "$0")/.." && pwd)
config=$here/examples/demo/vaultca.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ms START END: the milliseconds between two $EPOCHREALTIME readings.
ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f\n", (b-a)*1000}'; }
median() { sort -n "$1" | awk '{v[NR]=$1} END{printf "%.2f", v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f", a/b }'; }

# measure NAME RUNS CMD...: one timed run of CMD each way, appended to
# NAME's files; stdin from $input, stdout to /dev/null.
measure() {
  local name=$1 start end
  shift
  start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$work/$name.rss1" "$@" < "$input" > /dev/null
  end=$EPOCHREALTIME
  ms "$start" "$end" >> "$work/$name.timed"
  cat "$work/$name.rss1" >> "$work/$name.rss"
  start=$EPOCHREALTIME
  "$@" < "$input" > /dev/null
  end=$EPOCHREALTIME
  ms "$start" "$end" >> "$work/$name.bare"
}

# row NAME LABEL: prints the row and sets t_NAME (under time), b_NAME
# (bare) and m_NAME (peak RSS, KiB).
row() {
  local t b m
  t=$(median "$work/$1.timed") b=$(median "$work/$1.bare") m=$(sort -n "$work/$1.rss" | tail -1)
  printf '  %-16s %9s ms %9s ms %8s KiB\n' "$2" "$t" "$b" "$m"
  printf -v "t_$1" %s "$t"
  printf -v "b_$1" %s "$b"
  printf -v "m_$1" %s "$m"
}

header() { printf '  %-16s %12s %12s %12s\n' "" "under time" "bare" "peak RSS"; }

# 1. The full Istio install stream: CRDs, istiod, gateway (about 1 MB).
input=$work/install.yaml
cat "$corpus"/1.30.3/{base,istiod,gateway}.yaml > "$input"
mkdir -p "$work/kust"
cp "$input" "$work/kust/install.yaml"
"$tool" patches --config "$config" < "$input" > "$work/kust/vault-patch.yaml"
cat > "$work/kust/kustomization.yaml" <<'K'
resources: [install.yaml]
patches:
- path: vault-patch.yaml
K
for i in $(seq "$runs"); do
  measure tool "$tool" --config "$config"
  measure cat cat
  # kustomize takes over half a second a run: every fifth round is plenty.
  if (( i % 5 == 1 )); then measure kust "$kustomize" build "$work/kust"; fi
done
echo "full install stream ($(wc -c < "$input") bytes, $runs runs interleaved, median wall):"
header
row tool istio-vault-ca
row kust "kustomize build"
row cat cat
echo "  kustomize / istio-vault-ca: $(ratio "$t_kust" "$t_tool")x under time, $(ratio "$b_kust" "$b_tool")x bare"
echo "  istio-vault-ca / cat:       $(ratio "$t_tool" "$t_cat")x under time, $(ratio "$b_tool" "$b_cat")x bare"
echo "  peak RSS: $((m_tool / 1024)) MiB"
m_small=$m_tool

# The same stream through a pipe, as helm feeds a post-renderer: cat writes
# it, against cat writing it into cat. Under time only (both are pipelines).
rm -f "$work"/tool.* "$work"/cat.*
for _ in $(seq "$runs"); do
  for name in tool cat; do
    cmd=cat
    [ "$name" = tool ] && cmd="$tool --config $config"
    start=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/$name.rss1" bash -c "cat | $cmd" < "$input" > /dev/null
    end=$EPOCHREALTIME
    ms "$start" "$end" >> "$work/$name.timed"
  done
done
t_pipe_tool=$(median "$work/tool.timed") t_pipe_cat=$(median "$work/cat.timed")
echo "piped (bash -c 'cat | CMD', as helm feeds a post-renderer): istio-vault-ca $t_pipe_tool ms, cat $t_pipe_cat ms: $(ratio "$t_pipe_tool" "$t_pipe_cat")x"

# 2. A 100 MB stream that is almost all passthrough: the CRDs again and again.
input=$work/big.yaml
while [ "$(stat -c %s "$input" 2>/dev/null || echo 0)" -lt 100000000 ]; do cat "$corpus"/1.30.3/base.yaml >> "$input"; done
cat "$corpus"/1.30.3/istiod.yaml >> "$input"
rm -f "$work"/tool.* "$work"/cat.*
big_runs=$(( runs < 7 ? runs : 7 ))
for _ in $(seq "$big_runs"); do
  measure tool "$tool" --config "$config"
  measure cat cat
done
echo "100 MB passthrough-heavy stream ($(wc -c < "$input") bytes, $big_runs runs interleaved, median wall):"
header
row tool istio-vault-ca
row cat cat
echo "  istio-vault-ca / cat: $(ratio "$t_tool" "$t_cat")x under time, $(ratio "$b_tool" "$b_cat")x bare"
echo "  peak RSS: $((m_tool / 1024)) MiB (1 MB stream: $((m_small / 1024)) MiB)"
