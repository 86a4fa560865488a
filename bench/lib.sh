# Shared by the bench scripts: run two commands side by side, report medians and ratios.
# Wall time is measured with bash's EPOCHREALTIME (microseconds); peak RSS with GNU time.

# measure CMD -> prints "<median wall seconds> <median peak RSS KiB>" over $RUNS runs.
measure() {
    local cmd=$1 i walls=() rss=() t0 t1 m
    for ((i = 0; i < RUNS; i++)); do
        t0=$EPOCHREALTIME
        m=$( { /usr/bin/time -f '%M' bash -c "$cmd >/dev/null 2>&1"; } 2>&1 | tail -1)
        t1=$EPOCHREALTIME
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
        rss+=("$m")
    done
    printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'
    printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# compare LABEL OURS THEIRS: one line with both measurements and the ratios coretool/peer.
compare() {
    local label=$1 ours=$2 theirs=$3
    read -r w1 m1 < <(measure "$ours")
    read -r w2 m2 < <(measure "$theirs")
    awk -v l="$label" -v w1="$w1" -v m1="$m1" -v w2="$w2" -v m2="$m2" -v peer="${theirs%% *}" 'BEGIN {
        tr = (w2 > 0) ? w1 / w2 : 0; mr = (m2 > 0) ? m1 / m2 : 0;
        printf "%-28s coretool %7.4fs %7d KiB | %-8s %7.4fs %7d KiB | time %.2fx, memory %.2fx\n",
            l, w1, m1, peer, w2, m2, tr, mr }'
}
