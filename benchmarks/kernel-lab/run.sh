#!/usr/bin/env bash
# lvs-director against the kernel (issue 21): one run, side by side, on a network-namespace lab like the
# integration tests' (samples/lvs-director/Lab/LoadBalancerLab.cs):
#   (a) forward  plain kernel forwarding in the director namespace (ip_forward=1, no load balancing): the ceiling
#   (b) nft      the kernel's stateful NAT load balancer: nftables dnat to numgen inc mod 3 in the director namespace
#   (c) lvs-nat  lvs-director run, NAT (-m), on AF_PACKET on the director namespace's interfaces
#   (d) lvs-dr   lvs-director run, direct routing (-g), on AF_PACKET, in a one-subnet lab
# Each is measured with wrk (keep-alive, and a new connection per request) and iperf3 UDP with small datagrams.
# Not a test; CI does not run it. See README.md beside it. Run as root: sudo benchmarks/kernel-lab/run.sh
set -euo pipefail

usage() {
    cat <<'EOF'
usage: sudo benchmarks/kernel-lab/run.sh [options]
  --rounds N         rounds of (a) (b) (c) (d), in that order (default 3; medians over the rounds)
  --duration S       seconds per measurement (default 10)
  --connections N    wrk connections (default 32)
  --threads N        wrk threads (default 1)
  --workers N        lvs-director packet threads (default 1)
  --director-nice N  run lvs-director under nice -n N (default 0: as every other process)
  --udp-length B     iperf3 UDP payload bytes (default 64)
  --scenarios LIST   comma-separated subset of forward,nft,lvs-nat,lvs-dr (default all), and with --baseline
                     lvs-nat-base,lvs-dr-base (the same with the baseline binary)
  --director PATH    an already published lvs-director binary (default: dotnet publish -c Release into a temp dir)
  --baseline PATH    another lvs-director binary (an older build) for the -base scenarios
  --out FILE         also write the markdown summary to FILE
  --keep-logs DIR    copy the raw outputs (wrk, iperf3, director) to DIR before cleaning up
EOF
}

ROUNDS=3 DURATION=10 CONNECTIONS=32 THREADS=1 WORKERS=1 UDP_LEN=64 SCENARIOS=forward,nft,lvs-nat,lvs-dr
DIRECTOR_NICE=0 DIRECTOR_BIN="" BASELINE_BIN="" OUT="" KEEP_LOGS=""
COMMAND_LINE="sudo benchmarks/kernel-lab/run.sh $*"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --director-nice) DIRECTOR_NICE=$2; shift 2 ;;
        --udp-length) UDP_LEN=$2; shift 2 ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --director) DIRECTOR_BIN=$2; shift 2 ;;
        --baseline) BASELINE_BIN=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep-logs) KEEP_LOGS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# ---- prerequisites ------------------------------------------------------------------------------------------------
[[ $(uname -s) == Linux ]] || die "needs Linux (network namespaces)."
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, veth, nftables): sudo $0"
missing=()
for tool in ip ethtool nginx wrk iperf3 nft jq sysctl timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -z $DIRECTOR_BIN ]] && { command -v dotnet >/dev/null 2>&1 || missing+=(dotnet); }
if [[ ${#missing[@]} -gt 0 ]]; then
    die "missing: ${missing[*]}. On Debian: apt-get update && apt-get install -y iproute2 ethtool nginx wrk iperf3 nftables jq (and the .NET SDK for dotnet)."
fi
[[ -z $DIRECTOR_BIN || -x $DIRECTOR_BIN ]] || die "--director $DIRECTOR_BIN is not an executable."
for scenario in ${SCENARIOS//,/ }; do
    [[ $scenario =~ ^(forward|nft|lvs-nat|lvs-dr|lvs-nat-base|lvs-dr-base)$ ]] || die "unknown scenario $scenario (forward, nft, lvs-nat, lvs-dr, lvs-nat-base, lvs-dr-base)."
    [[ $scenario != *-base || -x $BASELINE_BIN ]] || die "scenario $scenario needs --baseline PATH (an executable lvs-director)."
done
REPO=$(cd "$(dirname "$0")/../.." && pwd)

# ---- everything this run creates, removed on exit (also Ctrl-C / SIGTERM) ------------------------------------------
PREFIX="lvsk$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"   # every namespace is PREFIX-<role>
WORK=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
NAMESPACES=()
PIDS=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    # Anything still inside one of this run's namespaces (nginx workers) is this run's: end it by its id.
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    # Deleting a namespace deletes its veth ends, bridges and nftables tables.
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [[ -n $KEEP_LOGS ]]; then mkdir -p "$KEEP_LOGS" && cp -r "$WORK"/logs/. "$KEEP_LOGS"/ 2>/dev/null; fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/logs" "$WORK/www"
chmod 755 "$WORK" "$WORK/www"   # nginx's workers run as an unprivileged user and read the static file
RESULTS="$WORK/results.tsv"   # round scenario metric value
: >"$RESULTS"

# ---- lab helpers ---------------------------------------------------------------------------------------------------
ns_add() { ip netns add "$1"; NAMESPACES+=("$1"); ip -n "$1" link set lo up; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# veth between two namespaces, both ends up
connect() { ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"; ip -n "$1" link set "$2" up; ip -n "$3" link set "$4" up; }
plug() { connect "$1" "$2" "$3" "$5"; ip -n "$3" link set "$5" master "$4"; }
bridge() { ip -n "$1" link add "$2" type bridge; ip -n "$1" link set "$2" up; }
no_tso() { in_ns "$1" ethtool -K "$2" tso off gso off >/dev/null; }
start_bg() { # start_bg LOGFILE NS COMMAND...: a process inside NS, tracked for cleanup; sets BG_PID
    local logfile=$1 ns=$2; shift 2
    ip netns exec "$ns" "$@" >"$logfile" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}
stop_bg() { # stop_bg PID SIGNAL: stop one process this run started and wait for it
    local pid=$1 signal=${2:-TERM}
    kill "-$signal" "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

VIP=10.0.0.100
head -c 100 /dev/zero | tr '\0' 'x' >"$WORK/www/small.txt"   # the small static file: 100 bytes

start_nginx() { # start_nginx NS NAME: one nginx (master + 1 worker) with its own config, pid and logs
    local ns=$1 name=$2 dir="$WORK/nginx-$2"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type text/plain;
    server {
        listen 80 backlog=4096;
        root $WORK/www;
    }
}
EOF
    start_bg "$WORK/logs/nginx-$name.log" "$ns" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
}

# start_iperf3 NS NAME [BIND]: DR servers bind to the VIP, or their UDP replies would leave from the server's own address
start_iperf3() { start_bg "$WORK/logs/iperf3-$2.log" "$1" iperf3 -s -p 5201 ${3:+-B "$3"}; }

server_setup() { # server_setup NS INDEX ADDRESS: veth on the switch, nginx and iperf3
    local ns=$1 index=$2 address=$3
    plug "$ns" eth0 "$SW" br0 "p$index"
    no_tso "$ns" eth0
    ip -n "$ns" addr add "$address/24" dev eth0
}

# The NAT lab: client 10.0.0.2 - director c0 10.0.0.1 | s0 10.1.0.1 - bridge - rs1..rs3 10.1.0.11-13 (default via
# the director). Used by (a), (b) and (c).
build_nat_lab() {
    N_CLIENT="$PREFIX-nclient" N_DIR="$PREFIX-ndir" SW="$PREFIX-nsw"
    ns_add "$N_CLIENT"; ns_add "$N_DIR"; ns_add "$SW"
    bridge "$SW" br0
    connect "$N_CLIENT" eth0 "$N_DIR" c0
    ip -n "$N_DIR" addr add 10.0.0.1/24 dev c0
    plug "$N_DIR" s0 "$SW" br0 pd
    ip -n "$N_DIR" addr add 10.1.0.1/24 dev s0
    no_tso "$N_CLIENT" eth0
    ip -n "$N_CLIENT" addr add 10.0.0.2/24 dev eth0
    ip -n "$N_CLIENT" route add default via 10.0.0.1
    for i in 1 2 3; do
        local ns="$PREFIX-nrs$i"
        ns_add "$ns"
        server_setup "$ns" "$i" "10.1.0.1$i"
        ip -n "$ns" route add default via 10.1.0.1
        start_nginx "$ns" "nrs$i"
        start_iperf3 "$ns" "nrs$i"
    done
}

# The DR lab: client 10.0.0.2, director eth0 10.0.0.1 and rs1..rs3 10.0.0.11-13 on one bridge; the VIP on the real
# servers' lo with arp_ignore 1 / arp_announce 2. Used by (d).
build_dr_lab() {
    D_CLIENT="$PREFIX-dclient" D_DIR="$PREFIX-ddir" SW="$PREFIX-dsw"
    ns_add "$D_CLIENT"; ns_add "$D_DIR"; ns_add "$SW"
    bridge "$SW" br0
    plug "$D_CLIENT" eth0 "$SW" br0 pc
    plug "$D_DIR" eth0 "$SW" br0 pd
    ip -n "$D_DIR" addr add 10.0.0.1/24 dev eth0
    no_tso "$D_CLIENT" eth0
    ip -n "$D_CLIENT" addr add 10.0.0.2/24 dev eth0
    for i in 1 2 3; do
        local ns="$PREFIX-drs$i"
        ns_add "$ns"
        server_setup "$ns" "$i" "10.0.0.1$i"
        ip -n "$ns" addr add "$VIP/32" dev lo
        for s in all.arp_ignore=1 all.arp_announce=2 eth0.arp_ignore=1 eth0.arp_announce=2; do
            in_ns "$ns" sysctl -q -w "net.ipv4.conf.$s"
        done
        start_nginx "$ns" "drs$i"
        start_iperf3 "$ns" "drs$i" "$VIP"
    done
}

# ipvsadm rules: HTTP on VIP:80 round robin over the three servers; iperf3 (its TCP control connection and its UDP
# datagrams must reach the same server) on VIP:5201, TCP and UDP, to rs1 only.
write_rules() { # write_rules FILE METHOD(-m|-g) NET(10.1.0|10.0.0)
    local file=$1 method=$2 net=$3
    {
        echo "-A -t $VIP:80 -s rr"
        for i in 1 2 3; do echo "-a -t $VIP:80 -r $net.1$i:80 $method -w 1"; done
        echo "-A -t $VIP:5201 -s rr"
        echo "-a -t $VIP:5201 -r $net.11:5201 $method -w 1"
        echo "-A -u $VIP:5201 -s rr"
        echo "-a -u $VIP:5201 -r $net.11:5201 $method -w 1"
    } >"$file"
}

wait_http() { # wait_http CLIENT_NS HOST: until a TCP connection to HOST:80 succeeds (30 s)
    for _ in $(seq 150); do
        if in_ns "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/80" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}

# ---- measurements --------------------------------------------------------------------------------------------------
loadavg() { cut -d' ' -f1 /proc/loadavg; }
record() { printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >>"$RESULTS"; }
cpu_ticks() { # utime+stime of a process and its threads, in clock ticks
    [[ -n ${1:-} && -r /proc/$1/stat ]] && awk '{ print $14 + $15 }' "/proc/$1/stat" || echo 0
}
retransmits() { # retransmits NS...: TCP segments the namespaces' kernels retransmitted so far (RetransSegs)
    local total=0 n
    for ns in "$@"; do
        n=$(in_ns "$ns" awk '$1 == "Tcp:" && $2 ~ /^[0-9]/ { print $13 }' /proc/net/snmp)
        total=$((total + ${n:-0}))
    done
    echo "$total"
}
tcp_hosts() { # the client and real servers of the lab the client namespace belongs to
    if [[ $1 == "$N_CLIENT" ]]; then echo "$N_CLIENT $PREFIX-nrs1 $PREFIX-nrs2 $PREFIX-nrs3"; else echo "$D_CLIENT $PREFIX-drs1 $PREFIX-drs2 $PREFIX-drs3"; fi
}
to_ms() { # wrk's latency (123.45us, 1.23ms, 1.05s, 1.2m) in milliseconds
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.3f", n }'
}

run_wrk() { # run_wrk SCENARIO CLIENT_NS HOST KIND(ka|close) DIRECTOR_PID
    local scenario=$1 ns=$2 host=$3 kind=$4 dpid=${5:-} out="$WORK/logs/r$ROUND-$1-wrk-$4.txt" header=()
    [[ $kind == close ]] && header=(-H 'Connection: close')
    record "$scenario" "load_$kind" "$(loadavg)"
    local t0 t1 r0 r1 c0 c1 hosts
    hosts=$(tcp_hosts "$ns")
    r0=$(retransmits $hosts)
    c0=$(retransmits "$ns")
    t0=$(cpu_ticks "$dpid")
    in_ns "$ns" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${header[@]}" "http://$host/small.txt" >"$out" 2>&1 || true
    t1=$(cpu_ticks "$dpid")
    r1=$(retransmits $hosts)
    c1=$(retransmits "$ns")
    record "$scenario" "retrans_$kind" "$((r1 - r0))"
    record "$scenario" "retrans_client_$kind" "$((c1 - c0))"
    local rps p99 errors non2xx
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$out")
    record "$scenario" "rps_$kind" "${rps:-0}"
    record "$scenario" "p99_$kind" "$(to_ms "${p99:-0}")"
    record "$scenario" "errors_$kind" "$(( ${errors:-0} + ${non2xx:-0} ))"
    [[ -n $dpid ]] && record "$scenario" "dircpu_$kind" "$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$DURATION" 'BEGIN { printf "%.0f", 100 * d / hz / s }')"
    log "  $scenario wrk $kind: ${rps:-?} req/s, p99 ${p99:-?}, errors ${errors:-0}+${non2xx:-0}, load $(loadavg)"
}

run_udp() { # run_udp SCENARIO CLIENT_NS HOST DIRECTOR_PID
    local scenario=$1 ns=$2 host=$3 dpid=${4:-} out="$WORK/logs/r$ROUND-$1-iperf3-udp.json"
    record "$scenario" load_udp "$(loadavg)"
    local t0 t1
    t0=$(cpu_ticks "$dpid")
    in_ns "$ns" timeout $((DURATION + 20)) iperf3 -c "$host" -p 5201 -u -l "$UDP_LEN" -b 0 -t "$DURATION" --json >"$out" 2>&1 || true
    t1=$(cpu_ticks "$dpid")
    local sent lost secs
    if sent=$(jq -e '.end.sum.packets' "$out" 2>/dev/null) && lost=$(jq -e '.end.sum.lost_packets' "$out" 2>/dev/null) \
        && secs=$(jq -e '.end.sum.seconds' "$out" 2>/dev/null); then
        record "$scenario" udp_sent_pps "$(awk -v p="$sent" -v s="$secs" 'BEGIN { printf "%.0f", p / s }')"
        record "$scenario" udp_rx_pps "$(awk -v p="$sent" -v l="$lost" -v s="$secs" 'BEGIN { printf "%.0f", (p - l) / s }')"
        record "$scenario" udp_loss_pct "$(awk -v p="$sent" -v l="$lost" 'BEGIN { printf "%.1f", p ? 100 * l / p : 0 }')"
    else
        record "$scenario" udp_rx_pps 0
        record "$scenario" udp_loss_pct 100
        log "  $scenario iperf3 failed: $(jq -r '.error // empty' "$out" 2>/dev/null || head -c 200 "$out")"
    fi
    [[ -n $dpid ]] && record "$scenario" dircpu_udp "$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$DURATION" 'BEGIN { printf "%.0f", 100 * d / hz / s }')"
    log "  $scenario iperf3 udp: $(grep -P "^$ROUND\t$scenario\tudp_rx_pps" "$RESULTS" | cut -f4) pps received, loss $(grep -P "^$ROUND\t$scenario\tudp_loss_pct" "$RESULTS" | cut -f4)%"
}

measure() { # measure SCENARIO CLIENT_NS HTTP_HOST UDP_HOST DIRECTOR_PID
    local scenario=$1 ns=$2 host=$3 udp_host=$4 dpid=${5:-}
    wait_http "$ns" "$host" || die "$scenario: $host:80 not reachable from the client"
    # warm-up (the director's JIT tiers, neighbour tables, conntrack), not recorded
    in_ns "$ns" wrk -t1 -c"$CONNECTIONS" -d2s "http://$host/small.txt" >/dev/null 2>&1 || true
    run_wrk "$scenario" "$ns" "$host" ka "$dpid"
    run_wrk "$scenario" "$ns" "$host" close "$dpid"
    run_udp "$scenario" "$ns" "$udp_host" "$dpid"
}

scenario_forward() {
    in_ns "$N_DIR" sysctl -q -w net.ipv4.ip_forward=1
    measure forward "$N_CLIENT" 10.1.0.11 10.1.0.11
    in_ns "$N_DIR" sysctl -q -w net.ipv4.ip_forward=0
}

scenario_nft() {
    in_ns "$N_DIR" sysctl -q -w net.ipv4.ip_forward=1
    # The kernel load balancer owns the VIP (it answers ARP for it); DNAT in prerouting forwards before local delivery.
    ip -n "$N_DIR" addr add "$VIP/32" dev c0
    in_ns "$N_DIR" nft -f - <<EOF
table ip ${PREFIX}_lb {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr $VIP tcp dport 80 dnat to numgen inc mod 3 map { 0 : 10.1.0.11, 1 : 10.1.0.12, 2 : 10.1.0.13 }
        ip daddr $VIP tcp dport 5201 dnat to 10.1.0.11
        ip daddr $VIP udp dport 5201 dnat to 10.1.0.11
    }
}
EOF
    measure nft "$N_CLIENT" "$VIP" "$VIP"
    in_ns "$N_DIR" nft delete table ip "${PREFIX}_lb"
    ip -n "$N_DIR" addr del "$VIP/32" dev c0
    in_ns "$N_DIR" sysctl -q -w net.ipv4.ip_forward=0
    in_ns "$N_DIR" bash -c 'command -v conntrack >/dev/null && conntrack -F' >/dev/null 2>&1 || true
}

run_director() { # run_director SCENARIO NS RULES INTERFACE...
    local scenario=$1 ns=$2 rules=$3 binary=$DIRECTOR_BIN; shift 3
    [[ $scenario == *-base ]] && binary=$BASELINE_BIN
    local links=()
    for interface in "$@"; do links+=(--interface "$interface"); done
    in_ns "$ns" sysctl -q -w net.ipv4.ip_forward=0
    start_bg "$WORK/logs/r$ROUND-$scenario-director.log" "$ns" nice -n "$DIRECTOR_NICE" "$binary" run --rules "$rules" "${links[@]}" \
        --workers "$WORKERS" --stats-interval 1
    DIRECTOR_PID=$BG_PID
}

stop_director() {
    local scenario=$1 dlog="$WORK/logs/r$ROUND-$scenario-director.log"
    sleep 1.5   # one more statistics table (every second) after the UDP measurement
    stop_bg "$DIRECTOR_PID" INT
    # The director's own count of the UDP datagrams it forwarded (InPkts of the UDP service in its last table), per
    # second of the iperf3 run: how many of those sent got through the director (the rest of the loss is further on).
    local forwarded secs
    forwarded=$(awk -v vip="$VIP:5201" '$1 == "UDP" && $2 == vip { n = $4 } END { print n + 0 }' "$dlog")
    secs=$(jq -e '.end.sum.seconds' "$WORK/logs/r$ROUND-$scenario-iperf3-udp.json" 2>/dev/null || echo 0)
    record "$scenario" udp_director_pps "$(awk -v n="$forwarded" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')"
    if grep -qi 'drop' "$dlog" 2>/dev/null; then
        log "  $scenario director drop lines: $(grep -i 'drop' "$dlog" | tail -3 | tr '\n' ' ')"
    fi
    DIRECTOR_PID=""
}

scenario_lvs_nat() { # scenario_lvs_nat NAME (lvs-nat or lvs-nat-base)
    run_director "$1" "$N_DIR" "$WORK/rules-nat" c0 s0
    measure "$1" "$N_CLIENT" "$VIP" "$VIP" "$DIRECTOR_PID"
    stop_director "$1"
}

scenario_lvs_dr() { # scenario_lvs_dr NAME (lvs-dr or lvs-dr-base)
    run_director "$1" "$D_DIR" "$WORK/rules-dr" eth0
    measure "$1" "$D_CLIENT" "$VIP" "$VIP" "$DIRECTOR_PID"
    stop_director "$1"
}

# ---- the run -------------------------------------------------------------------------------------------------------
STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
if [[ -z $DIRECTOR_BIN ]]; then
    log "publishing lvs-director (Release) into $WORK/director ..."
    dotnet publish -c Release "$REPO/samples/lvs-director" -o "$WORK/director" --nologo -v q >"$WORK/logs/publish.log" 2>&1 \
        || { cat "$WORK/logs/publish.log" >&2; die "dotnet publish failed"; }
    DIRECTOR_BIN="$WORK/director/lvs-director"
fi

log "building the labs (prefix $PREFIX)"
build_nat_lab
build_dr_lab
write_rules "$WORK/rules-nat" -m 10.1.0
write_rules "$WORK/rules-dr" -g 10.0.0
sleep 1

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for scenario in ${SCENARIOS//,/ }; do
        log "round $ROUND: $scenario"
        case $scenario in
            forward) scenario_forward ;;
            nft) scenario_nft ;;
            lvs-nat|lvs-nat-base) scenario_lvs_nat "$scenario" ;;
            lvs-dr|lvs-dr-base) scenario_lvs_dr "$scenario" ;;
        esac
    done
done
FINISHED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

# ---- summary (markdown) -------------------------------------------------------------------------------------------
median() { # median SCENARIO METRIC
    awk -F'\t' -v s="$1" -v m="$2" '$2 == s && $3 == m { print $4 }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
values() { # values SCENARIO METRIC: every round's figure, slash-separated
    awk -F'\t' -v s="$1" -v m="$2" '$2 == s && $3 == m { printf "%s%s", (n++ ? " / " : ""), $4 } END { if (!n) printf "-" }' "$RESULTS"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else if (v + 0 >= 100) printf "%.0f", v; else printf "%.2f", v }'; }

summary() {
    echo "Run $STARTED to $FINISHED on $(uname -r), $(nproc) cores, lvs-director --workers $WORKERS (nice $DIRECTOR_NICE);"
    echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (after a 2 s warm-up), iperf3 -u -l $UDP_LEN -b 0 -t $DURATION;"
    echo "$ROUNDS round(s), figures per round as r1 / r2 / ..., medians in the first table. Command: \`$COMMAND_LINE\`"
    [[ -n $BASELINE_BIN ]] && echo "The -base scenarios ran $BASELINE_BIN."
    echo
    echo "| scenario | req/s keep-alive | p99 ms keep-alive | req/s new conn. | p99 ms new conn. | UDP rx pps | UDP loss % |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for s in ${SCENARIOS//,/ }; do
        echo "| $s | $(fmt "$(median "$s" rps_ka)") | $(median "$s" p99_ka) | $(fmt "$(median "$s" rps_close)") | $(median "$s" p99_close) | $(fmt "$(median "$s" udp_rx_pps)") | $(median "$s" udp_loss_pct) |"
    done
    echo
    echo "Every round:"
    echo
    echo "| scenario | metric | figures | load average (1 min) before each |"
    echo "| --- | --- | --- | --- |"
    for s in ${SCENARIOS//,/ }; do
        for m in ka close; do
            echo "| $s | req/s $m | $(values "$s" "rps_$m") | $(values "$s" "load_$m") |"
            echo "| $s | p99 ms $m | $(values "$s" "p99_$m") | |"
            echo "| $s | socket errors + non-2xx $m | $(values "$s" "errors_$m") | |"
            echo "| $s | TCP segments retransmitted (client + servers) $m | $(values "$s" "retrans_$m") | |"
            echo "| $s | of which by the client $m | $(values "$s" "retrans_client_$m") | |"
        done
        echo "| $s | UDP rx pps | $(values "$s" udp_rx_pps) | $(values "$s" load_udp) |"
        echo "| $s | UDP sent pps | $(values "$s" udp_sent_pps) | |"
        echo "| $s | UDP loss % | $(values "$s" udp_loss_pct) | |"
        [[ $s == lvs-* ]] && echo "| $s | UDP pps forwarded by the director | $(values "$s" udp_director_pps) | |"
        if [[ $s == lvs-* ]]; then
            echo "| $s | director CPU % of one core, per round: ka ; close ; udp | $(values "$s" dircpu_ka) ; $(values "$s" dircpu_close) ; $(values "$s" dircpu_udp) | |"
        fi
    done
    if [[ ,$SCENARIOS, == *,nft,* ]]; then
        echo
        echo "Ratios of medians to (b) nft (targets for lvs-nat: req/s >= 0.90, p99 <= 1.50):"
        echo
        echo "| scenario | req/s ka | p99 ka | req/s new conn. | p99 new conn. | UDP rx pps |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: |"
        for s in ${SCENARIOS//,/ }; do
            [[ $s == nft ]] && continue
            echo "| $s / nft | $(ratio "$(median "$s" rps_ka)" "$(median nft rps_ka)") | $(ratio "$(median "$s" p99_ka)" "$(median nft p99_ka)") | $(ratio "$(median "$s" rps_close)" "$(median nft rps_close)") | $(ratio "$(median "$s" p99_close)" "$(median nft p99_close)") | $(ratio "$(median "$s" udp_rx_pps)" "$(median nft udp_rx_pps)") |"
        done
    fi
}

summary | tee "$WORK/summary.md"
[[ -n $OUT ]] && cp "$WORK/summary.md" "$OUT"
cp "$RESULTS" "$WORK/logs/results.tsv"
log "done; cleaning up"
