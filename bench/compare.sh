#!/usr/bin/env bash
# compare.sh runs hoheit and trivy side by side on the same synthetic
# Terraform plans and prints a Markdown table of wall time, peak memory and
# findings.
#
#	bench/compare.sh [N...]        # default: 1000 10000 100000
#
# For each N it writes bench/out/plan-N.json with bench/gen (kept between
# runs: the generator is deterministic), then runs, each under
# /usr/bin/time -v:
#
#	hoheit scan plan-N.json --format json --output /dev/null --quiet
#	trivy config --misconfig-scanners terraformplan-json ... plan-N.json
#
# hoheit runs HOHEIT_RUNS times (default 3) and the median wall time is
# reported; trivy runs once, limited to TRIVY_TIMEOUT seconds (default 300).
# Findings are counted from a separate report-writing run of each tool.
# Trivy runs offline: no check or version updates, its embedded checks.
#
# Environment: SEED (default 1), HOHEIT_RUNS, TRIVY_TIMEOUT, SKIP_TRIVY=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/bench/out"
seed="${SEED:-1}"
runs="${HOHEIT_RUNS:-3}"
trivy_timeout="${TRIVY_TIMEOUT:-300}"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000 10000 100000)

if [[ ! -x /usr/bin/time ]]; then
	echo "compare.sh: /usr/bin/time is missing; install it: apt-get install -y time" >&2
	exit 2
fi

mkdir -p "$out"
cd "$root"
echo "building hoheit, bench/gen and bench/findings" >&2
go build -o "$out/hoheit" ./cmd/hoheit
go build -o "$out/gen" ./bench/gen
go build -o "$out/findings" ./bench/findings
trivy="$root/.cache/bin/trivy"
if [[ "${SKIP_TRIVY:-0}" != 1 ]]; then
	"$root/bench/build-trivy.sh" >&2
fi

# measure LABEL CMD... runs CMD under /usr/bin/time -v and sets wall and
# cpu (user + system, seconds), rss (KiB) and status (the exit code).
measure() {
	local label="$1"
	shift
	local tf="$out/time-$label.txt"
	status=0
	/usr/bin/time -v -o "$tf" "$@" || status=$?
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
		n = split($2, p, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + p[i]
		print s }' "$tf")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$tf")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
}

secs() { awk -v s="$1" 'BEGIN { if (s < 10) printf "%.2f s", s; else printf "%.0f s", s }'; }
mem() { awk -v k="$1" 'BEGIN { if (k >= 1048576) printf "%.1f GiB", k / 1048576; else printf "%.0f MiB", k / 1024 }'; }

rows=()
for n in "${sizes[@]}"; do
	plan="$out/plan-$n.json"
	if [[ ! -s "$plan" || "${REGENERATE:-0}" == 1 ]]; then
		echo "generating $plan" >&2
		"$out/gen" -n "$n" -seed "$seed" -o "$plan"
	fi
	size=$(stat -c %s "$plan")
	cat "$plan" > /dev/null # both tools read from the page cache
	limit=()
	((size > 512 << 20)) && limit=(--max-input-size "$size") # beyond scan's default limit

	# hoheit: exit 1 means findings, not failure.
	walls=()
	cpus=()
	max_rss=0
	for ((i = 0; i < runs; i++)); do
		measure "hoheit-$n" "$out/hoheit" scan "$plan" "${limit[@]}" --format json --output /dev/null --quiet
		if ((status > 1)); then
			echo "hoheit failed on $plan (exit $status)" >&2
			exit 1
		fi
		walls+=("$wall")
		cpus+=("$cpu")
		((rss > max_rss)) && max_rss=$rss
	done
	h_wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	h_cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	h_rss=$max_rss
	"$out/hoheit" scan "$plan" "${limit[@]}" --format json --output "$out/hoheit-$n.json" --quiet || true
	read -r h_found h_unknown h_resources < <("$out/findings" hoheit "$out/hoheit-$n.json")
	echo "N=$n hoheit: ${h_wall}s wall ${h_cpu}s CPU ${h_rss}KiB, $h_found findings ($h_unknown unknown) over $h_resources resources" >&2

	t_wall_s="skipped" t_rss_s="" t_found="" ratio=""
	if [[ "${SKIP_TRIVY:-0}" != 1 ]]; then
		rm -f "$out/trivy-$n.json"
		# trivy's own --timeout does not interrupt its plan conversion, so
		# timeout(1) ends it. --foreground: signal trivy only, so that
		# timeout reaps it and /usr/bin/time still sees its peak RSS.
		measure "trivy-$n" timeout --foreground --signal=KILL "$trivy_timeout" \
			"$trivy" config --quiet --skip-check-update --skip-version-check \
			--misconfig-scanners terraformplan-json --cache-dir "$root/.cache/trivy" \
			--timeout "${trivy_timeout}s" --format json --output "$out/trivy-$n.json" "$plan"
		t_wall=$wall
		t_rss=$rss
		if [[ $status -eq 0 && -s "$out/trivy-$n.json" ]]; then
			t_found=$("$out/findings" trivy "$out/trivy-$n.json")
			t_wall_s=$(secs "$t_wall")
			t_rss_s=$(mem "$t_rss")
			ratio=$(awk -v t="$t_wall" -v h="$h_wall" 'BEGIN { printf "%.0fx", t / h }')
		else
			t_wall_s="timeout at $(secs "$t_wall")"
			t_rss_s="$(mem "$t_rss") (at timeout)"
			t_found="-"
			ratio=$(awk -v t="$t_wall" -v h="$h_wall" 'BEGIN { printf "> %.0fx", t / h }')
		fi
		echo "N=$n trivy: $t_wall_s $t_rss_s, $t_found findings (exit $status)" >&2
	fi
	rows+=("| $n | $(mem $((size / 1024))) | $(secs "$h_wall") | $(secs "$h_cpu") | $(mem "$h_rss") | $h_found ($h_unknown unknown) | $t_wall_s | $t_rss_s | $t_found | $ratio |")
done

echo
echo "| resources | plan size | hoheit wall | hoheit CPU | hoheit peak RSS | hoheit findings | trivy wall | trivy peak RSS | trivy findings | trivy / hoheit (wall) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
