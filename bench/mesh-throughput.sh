#!/usr/bin/env bash
# TCP throughput and latency through the hoheit mesh with segmentation
# enforcing a 1,000-rule policy, side by side with plain wireguard-go on the
# same path, in one run (docs/benchmarks.md, "Mesh and segmentation").
#
#   sudo bench/mesh-throughput.sh        # or: make bench-mesh
#
# Two network namespaces joined by one veth pair (default MTU 1500) carry
# both tunnels; a third holds the control plane. Case A: upstream
# wireguard-go (the version in go.mod, built with `go install`) on a TUN in
# each namespace, configured with wg(8) and ip(8), MTU 1420 and a pre-shared
# key as hoheit uses. Case B: `hoheit server --dev`, a 1,000-rule protect-mode
# policy applied with `hoheit segment apply`, and `hoheit agent --mesh tun` in
# each namespace. Before measuring, the script checks that B's filter
# enforces: the first and last filler rules admit their ports, a port no
# rule admits is dropped (and reported), while the same port passes over A.
# Then ROUNDS rounds of A,B (B,A in even rounds): iperf3 (one TCP stream, DURATION s), a 1-byte
# TCP ping-pong (PINGPONG_N round trips) and ping -c 100 -i 0.01; the
# per-round figures, medians and ratios are printed as markdown.
#
# Environment: ROUNDS (5), DURATION (10), PARALLEL (1: iperf3 -P),
# PINGPONG_N (20000), RULES (1000), OUT (bench/out/mesh-DATE), PERF=1 (a
# profiled extra iperf3 run per case, needs perf), HOHEIT_BIN (a hoheit
# binary to measure instead of building this tree), KEEP=1 keeps
# the namespaces for a look after a failure (remove them with ip netns del).
# Needs root, iproute2, Go; installs iperf3, wireguard-tools and iputils-ping
# with apt-get when missing.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
PARALLEL=${PARALLEL:-1}
PINGPONG_N=${PINGPONG_N:-20000}
RULES=${RULES:-1000}
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/out/mesh-$(date -u +%Y%m%dT%H%M%SZ)}
CACHE_BIN=$ROOT/.cache/bin
MTU=1420 # internal/mesh's default (Options.MTU)

log() { printf '%s mesh-throughput: %s\n' "$(date -u +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices)"
[ "$RULES" -ge 4 ] && [ "$RULES" -le 11000 ] || die "RULES=$RULES: want 4..11000"

# --- what it needs ----------------------------------------------------------
missing=()
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v wg >/dev/null || missing+=(wireguard-tools)
command -v ping >/dev/null || missing+=(iputils-ping)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

# Plain upstream wireguard-go: the same module and version hoheit links.
WG_VERSION=$(go list -m -f '{{.Version}}' golang.zx2c4.com/wireguard)
WG_GO=$CACHE_BIN/wireguard-go
if [ "$(cat "$WG_GO.version" 2>/dev/null)" != "$WG_VERSION" ] || [ ! -x "$WG_GO" ]; then
	log "building wireguard-go $WG_VERSION"
	mkdir -p "$CACHE_BIN"
	tmp=$(mktemp -d)
	(cd "$tmp" && GOBIN=$tmp GOFLAGS=-mod=mod go install "golang.zx2c4.com/wireguard@$WG_VERSION")
	mv "$tmp/wireguard" "$WG_GO"
	rm -rf "$tmp"
	echo "$WG_VERSION" >"$WG_GO.version"
fi

mkdir -p "$OUT/bin"
log "building hoheit and meshperf into $OUT/bin"
if [ -n "${HOHEIT_BIN:-}" ]; then
	cp "$HOHEIT_BIN" "$OUT/bin/hoheit" # another build, to compare
else
	go build -o "$OUT/bin/hoheit" ./cmd/hoheit
fi
go build -o "$OUT/bin/meshperf" ./bench/meshperf
HOHEIT=$OUT/bin/hoheit
MESHPERF=$OUT/bin/meshperf

# --- namespaces and cleanup -------------------------------------------------
id=$(($$ % 100000))
NSA=mpA-$id NSB=mpB-$id NSC=mpC-$id
WGA=wgpa$id WGB=wgpb$id
pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP:-}" = 1 ] && [ $rc -ne 0 ]; then
		log "KEEP=1: namespaces $NSA $NSB $NSC left in place"
	else
		for n in $NSA $NSB $NSC; do ip netns del "$n" 2>/dev/null || true; done
	fi
	rm -f "/var/run/wireguard/$WGA.sock" "/var/run/wireguard/$WGB.sock"
	[ $rc -eq 0 ] || log "exit $rc; logs in $OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bg NAME NS CMD...: start CMD in namespace NS in the background, logging to
# $OUT/NAME.log; sets LAST_PID (ip netns exec execs CMD, so it is CMD's pid).
bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$OUT/$name.log" 2>&1 &
	LAST_PID=$!
	pids+=("$LAST_PID")
}

# until_ok SECONDS WHAT CMD...: poll CMD until it succeeds or time runs out.
until_ok() {
	local secs=$1 what=$2 end
	shift 2
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "waiting for $what ($secs s)"
		sleep 0.2
	done
}

log "namespaces $NSA (client) $NSB (server) $NSC (control plane)"
for n in $NSA $NSB $NSC; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
# The data path: one veth pair, default MTU.
ip link add veth0 netns "$NSA" type veth peer name veth0 netns "$NSB"
ip -n "$NSA" addr add 10.78.0.1/24 dev veth0
ip -n "$NSB" addr add 10.78.0.2/24 dev veth0
ip -n "$NSA" link set veth0 up
ip -n "$NSB" link set veth0 up
# The control network: a bridge in the control plane's namespace.
ip -n "$NSC" link add br0 type bridge
ip -n "$NSC" addr add 10.79.0.1/24 dev br0
ip -n "$NSC" link set br0 up
for x in A:2 B:3; do
	ns=mp${x%%:*}-$id
	ip link add ctl0 netns "$ns" type veth peer name "ctl${x%%:*}" netns "$NSC"
	ip -n "$NSC" link set "ctl${x%%:*}" master br0 up
	ip -n "$ns" addr add "10.79.0.${x##*:}/24" dev ctl0
	ip -n "$ns" link set ctl0 up
done

# --- case A: plain wireguard-go ----------------------------------------------
log "case A: wireguard-go $WG_VERSION on $WGA / $WGB"
keys=$OUT/keys
mkdir -p "$keys"
(umask 077
	for s in a b; do wg genkey >"$keys/$s.key"; wg pubkey <"$keys/$s.key" >"$keys/$s.pub"; done
	wg genpsk >"$keys/psk")
PLAIN_A=fd00:77::1 PLAIN_B=fd00:77::2
for s in A B; do
	ns=mp$s-$id
	dev=wgp$(echo $s | tr AB ab)$id
	bg "wireguard-go-$s" "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error "$WG_GO" -f "$dev"
	eval "WGPID_$s=$LAST_PID"
	until_ok 10 "$dev's control socket" test -S "/var/run/wireguard/$dev.sock"
done
ip netns exec "$NSA" wg set "$WGA" private-key "$keys/a.key" listen-port 51821 \
	peer "$(cat "$keys/b.pub")" preshared-key "$keys/psk" endpoint 10.78.0.2:51821 allowed-ips "$PLAIN_B/128"
ip netns exec "$NSB" wg set "$WGB" private-key "$keys/b.key" listen-port 51821 \
	peer "$(cat "$keys/a.pub")" preshared-key "$keys/psk" endpoint 10.78.0.1:51821 allowed-ips "$PLAIN_A/128"
ip -n "$NSA" addr add "$PLAIN_A/64" dev "$WGA" nodad
ip -n "$NSB" addr add "$PLAIN_B/64" dev "$WGB" nodad
ip -n "$NSA" link set "$WGA" mtu $MTU up
ip -n "$NSB" link set "$WGB" mtu $MTU up

# --- case B: hoheit ----------------------------------------------------------
log "case B: hoheit server --dev, a $RULES-rule policy, two agents on the tun datapath"
"$MESHPERF" policy -rules "$RULES" -o "$OUT/policy.yaml"
CP=$OUT/cp
mkdir -p "$CP"
bg server "$NSC" "$HOHEIT" server --dev --data-dir "$CP" --listen 10.79.0.1:8443 --log-level warn
API=(--server https://10.79.0.1:8443 --ca "$CP/ca.pem" --token-file "$CP/admin.token")
until_ok 30 "the policy to apply" ip netns exec "$NSC" "$HOHEIT" segment apply "$OUT/policy.yaml" "${API[@]}"
agent() { # agent NS NAME ENDPOINT LABELS...
	local ns=$1 name=$2 ep=$3
	shift 3
	local args=(agent --server https://10.79.0.1:8443 --ca "$CP/ca.pem" --class dev --attestation insecure
		--name "$name" --mesh tun --mesh-port 51820 --endpoint "$ep" --log-level warn)
	for l in "$@"; do args+=(--label "$l"); done
	bg "agent-$name" "$ns" "$HOHEIT" "${args[@]}"
}
# The labels must match bench/meshperf/policy.go.
agent "$NSA" perf-client 10.78.0.1:51820 app=perf-client env=bench cloud=aws site=s1 tier=front zone=z1
AGENT_A=$LAST_PID
agent "$NSB" perf-server 10.78.0.2:51820 app=perf-server env=bench cloud=azure site=s2 tier=back zone=z2
AGENT_B=$LAST_PID
mesh_addr() {
	ip -n "$1" -o -6 addr show dev hoheit0 scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}'
}
until_ok 30 "perf-client's mesh address" sh -c "ip -n $NSA -o -6 addr show dev hoheit0 scope global | grep -q inet6"
until_ok 30 "perf-server's mesh address" sh -c "ip -n $NSB -o -6 addr show dev hoheit0 scope global | grep -q inet6"
HOH_A=$(mesh_addr "$NSA") HOH_B=$(mesh_addr "$NSB")
log "mesh addresses: plain $PLAIN_A -> $PLAIN_B, hoheit $HOH_A -> $HOH_B"

# --- servers and the enforcement check ---------------------------------------
FIRST_FILLER=10000 LAST_FILLER=$((10000 + (RULES - 4) * 5)) DENIED=5999
bg iperf3-server "$NSB" iperf3 -s -p 5201
for p in 5301 $DENIED $FIRST_FILLER $LAST_FILLER; do
	bg "serve-$p" "$NSB" "$MESHPERF" serve -listen "[::]:$p"
done
probe() { ip netns exec "$NSA" "$MESHPERF" probe -addr "[$1]:$2" -timeout "${3:-2s}"; }
until_ok 30 "TCP over plain wireguard-go" probe $PLAIN_B 5301
until_ok 60 "TCP over the hoheit mesh" probe "$HOH_B" 5301
probe $PLAIN_B $DENIED >/dev/null || die "tcp/$DENIED over plain wireguard-go: no listener?"
for p in $FIRST_FILLER $LAST_FILLER; do
	probe "$HOH_B" "$p" >/dev/null || die "tcp/$p (a filler rule of the policy) did not pass the hoheit mesh"
done
if probe "$HOH_B" $DENIED 3s >/dev/null 2>&1; then
	die "tcp/$DENIED passed the hoheit mesh: the filter does not enforce the policy"
fi
until_ok 40 "the alert for the dropped tcp/$DENIED" sh -c \
	"ip netns exec $NSC $HOHEIT segment alerts ${API[*]} | grep $DENIED | grep -q drop"
log "enforcing: tcp/$FIRST_FILLER and tcp/$LAST_FILLER (filler rules) pass, tcp/$DENIED is dropped and reported; over plain wireguard-go it passes"
ip netns exec "$NSC" "$HOHEIT" segment alerts "${API[@]}" >"$OUT/alerts.txt" 2>&1 || true

# --- measure -----------------------------------------------------------------
# cpu_ticks PID...: user+system clock ticks of the processes so far.
cpu_ticks() {
	local t=0 p f
	for p in "$@"; do
		read -ra f <"/proc/$p/stat"
		t=$((t + f[13] + f[14]))
	done
	echo $t
}
measure() { # measure ROUND CASE ADDR PID...
	local r=$1 c=$2 addr=$3 pre t0
	shift 3
	pre=$(printf '%s/round-%02d-%s' "$OUT" "$r" "$c")
	echo "round $r case $c: $(uptime)" >>"$OUT/uptime.txt"
	t0=$(cpu_ticks "$@")
	ip netns exec "$NSA" iperf3 -c "$addr" -p 5201 -t "$DURATION" -P "$PARALLEL" -J >"$pre-iperf.json" ||
		die "iperf3 round $r case $c (see $pre-iperf.json)"
	echo "$t0 $(cpu_ticks "$@") $(getconf CLK_TCK)" >"$pre-cpu.txt"
	ip netns exec "$NSA" "$MESHPERF" pingpong -addr "[$addr]:5301" -n "$PINGPONG_N" >"$pre-pingpong.json"
	ip netns exec "$NSA" ping -n -c 100 -i 0.01 "$addr" >"$pre-ping.txt" || true
}
{
	echo "hoheit $(git -C "$ROOT" describe --always --dirty 2>/dev/null), wireguard-go $WG_VERSION, $(go version | cut -d' ' -f3)"
	echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "ROUNDS=$ROUNDS DURATION=$DURATION PARALLEL=$PARALLEL PINGPONG_N=$PINGPONG_N RULES=$RULES"
} >"$OUT/env.txt"
log "measuring: $ROUNDS rounds of A,B / B,A (iperf3 ${DURATION}s -P $PARALLEL, $PINGPONG_N TCP round trips, 100 pings)"
for r in $(seq 1 "$ROUNDS"); do
	log "round $r/$ROUNDS: $(uptime | sed 's/.*load/load/')"
	# A,B in odd rounds, B,A in even ones: a drift in the machine's load
	# favours neither case.
	if [ $((r % 2)) = 1 ]; then
		measure "$r" A $PLAIN_B "$WGPID_A" "$WGPID_B"
		measure "$r" B "$HOH_B" "$AGENT_A" "$AGENT_B"
	else
		measure "$r" B "$HOH_B" "$AGENT_A" "$AGENT_B"
		measure "$r" A $PLAIN_B "$WGPID_A" "$WGPID_B"
	fi
done

# PERF=1: one more iperf3 run per case under perf(1), both tunnel processes
# sampled (cpu-clock, call graphs), flat profiles into perf-{A,B}.txt;
# perf report -i perf-B.data --children ... shows the filter's share.
if [ "${PERF:-}" = 1 ]; then
	command -v perf >/dev/null || die "PERF=1 needs perf (Debian: linux-perf)"
	for x in "A $PLAIN_B $WGPID_A,$WGPID_B" "B $HOH_B $AGENT_A,$AGENT_B"; do
		read -r c addr ps <<<"$x"
		log "profiling case $c"
		perf record -q -e cpu-clock -F 999 -g -p "$ps" -o "$OUT/perf-$c.data" -- sleep "$DURATION" 2>>"$OUT/perf.log" &
		perfpid=$!
		ip netns exec "$NSA" iperf3 -c "$addr" -p 5201 -t "$DURATION" -P "$PARALLEL" -J >"$OUT/perf-$c-iperf.json"
		wait $perfpid || true
		perf report -i "$OUT/perf-$c.data" --no-children -g none --sort dso,symbol --stdio --percent-limit 0.3 \
			2>/dev/null | grep '%' >"$OUT/perf-$c.txt" || true
	done
fi

# The filter must still be enforcing after the run.
probe "$HOH_B" $DENIED 2s >/dev/null 2>&1 && die "tcp/$DENIED passed the hoheit mesh after the run"

cat "$OUT/env.txt"
echo
"$MESHPERF" report -dir "$OUT" | tee "$OUT/report.md"
log "done; files in $OUT"
