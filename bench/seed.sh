#!/bin/sh
# bench/seed.sh [RUNS] - the tutorial's workload (2-5-1 sigmoid net, circle
# data, BCE, SGD momentum, batch 100, 1000 epochs) in nn and in PyTorch, side
# by side in one run. Prints each side's median time and their ratio.
# PyTorch side: apt-get install python3-torch; the script is torch_seed.py
# from the shared benchmark folder (TORCH_BENCH, default ../shared/bench).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
torch_dir=${TORCH_BENCH:-../shared/bench}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

nn_times=""; torch_times=""
i=0
while [ $i -lt "$runs" ]; do
    t=$(tools/nnrun train | awk '/^time:/ {print $2}')
    nn_times="$nn_times $t"
    if [ -f "$torch_dir/torch_seed.py" ]; then
        t=$(/usr/bin/python3 "$torch_dir/torch_seed.py" | sed -n 's/.* time \([0-9.]*\)s.*/\1/p')
        torch_times="$torch_times $t"
    fi
    i=$((i + 1))
done
nn_med=$(printf '%s\n' $nn_times | median)
echo "nn     median of $runs: ${nn_med} s (train loop, 12000 steps)"
if [ -n "$torch_times" ]; then
    torch_med=$(printf '%s\n' $torch_times | median)
    echo "torch  median of $runs: ${torch_med} s"
    awk -v a="$torch_med" -v b="$nn_med" 'BEGIN {printf "nn is %.1fx faster\n", a / b}'
else
    echo "torch  skipped: no $torch_dir/torch_seed.py"
fi
