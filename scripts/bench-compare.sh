#!/usr/bin/env bash
# Whole-process comparison, on the same input in one run: istio-vault-ca,
# what users would run instead (kustomize build with the equivalent
# strategic-merge patch), and cat as the floor. Prints the median wall time
# and peak RSS of each, and the ratios.
#
# usage: bench-compare.sh TOOL KUSTOMIZE CORPUS_DIR [RUNS]
set -euo pipefail
tool=$1 kustomize=$2 corpus=$3 runs=${4:-21}
here=$(cd "$(dirname "$0")/.." && pwd)
config=$here/examples/demo/vaultca.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median_of CMD...: runs CMD (stdin from $input, stdout to /dev/null) $runs
# times under /usr/bin/time (for peak RSS; its own cost is in every row);
# prints "median-wall-ms peak-rss-KiB".
median_of() {
  local -a walls=() rss=()
  local start end
  for _ in $(seq "$runs"); do
    start=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/t" "$@" < "$input" > /dev/null
    end=$EPOCHREALTIME
    walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", (b-a)*1000}')")
    rss+=("$(cat "$work/t")")
  done
  local w m
  w=$(printf '%s\n' "${walls[@]}" | sort -n | awk -v n="$runs" 'NR==int((n+1)/2){print $1}')
  m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  echo "$w $m"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f", a/b }'; }

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
read -r t_tool m_tool < <(median_of "$tool" --config "$config")
read -r t_kust m_kust < <(median_of "$kustomize" build "$work/kust")
read -r t_cat m_cat < <(median_of cat)
echo "full install stream ($(wc -c < "$input") bytes, $runs runs, median wall, peak RSS):"
printf '  %-16s %8s ms %8s KiB\n' istio-vault-ca "$t_tool" "$m_tool" "kustomize build" "$t_kust" "$m_kust" cat "$t_cat" "$m_cat"
echo "  kustomize / istio-vault-ca: $(ratio "$t_kust" "$t_tool")x   istio-vault-ca / cat: $(ratio "$t_tool" "$t_cat")x   peak RSS: $((m_tool / 1024)) MiB"

# 2. A 100 MB stream that is almost all passthrough: the CRDs again and again.
input=$work/big.yaml
while [ "$(stat -c %s "$input" 2>/dev/null || echo 0)" -lt 100000000 ]; do cat "$corpus"/1.30.3/base.yaml >> "$input"; done
cat "$corpus"/1.30.3/istiod.yaml >> "$input"
big_runs=$(( runs < 5 ? runs : 5 ))
runs=$big_runs
read -r t_tool m_big < <(median_of "$tool" --config "$config")
read -r t_cat m_cat < <(median_of cat)
echo "100 MB passthrough-heavy stream ($(wc -c < "$input") bytes, $runs runs):"
printf '  %-16s %8s ms %8s KiB\n' istio-vault-ca "$t_tool" "$m_big" cat "$t_cat" "$m_cat"
echo "  istio-vault-ca / cat: $(ratio "$t_tool" "$t_cat")x   peak RSS: $((m_big / 1024)) MiB (1 MB stream: $((m_tool / 1024)) MiB)"
