#!/bin/sh
# fashion_mnist.sh - the Fashion-MNIST runs: an MLP (5 epochs) and a small
# CNN (2 epochs) trained on the 60000 training images, then evaluated on
# the 10000 test images. Prints each run's last epoch line, its test
# accuracy and its wall time. Needs the Debian package dataset-fashion-mnist.
#   bench/fashion_mnist.sh [BUILDDIR]   (default: the current directory)
# PyTorch, same settings: MLP 0.847 test accuracy, CNN 0.869.
set -e
b=${1:-.}
nnrun=$b/tools/nnrun
[ -x "$nnrun" ] || { echo "no $nnrun: build first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bench() { # NAME EPOCHS MODEL OPTIM
    start=$(date +%s.%N)
    "$nnrun" train --data 'fashion_mnist split=train' --model "$3" --loss cross_entropy \
        --optim "$4" --epochs "$2" --batch 64 --shuffle epoch --save "$tmp/$1.pb" >"$tmp/$1.out"
    end=$(date +%s.%N)
    grep '^epoch:' "$tmp/$1.out" | tail -n 1 | sed "s/^/$1 train /"
    grep '^time:' "$tmp/$1.out" | sed "s/^/$1 loop  /"
    "$nnrun" eval "$tmp/$1.pb" --data 'fashion_mnist split=test' | sed "s/^/$1 test  /"
    echo "$start $end" | awk -v n="$1" '{ printf "%s wall: %.1f s (training, with loading)\n", n, $2 - $1 }'
}

bench mlp 5 'flatten ! linear out=256 ! relu ! linear out=10' 'sgd lr=0.1 momentum=0.9'
bench cnn 2 'conv2d out=8 kernel=3 ! relu ! max_pool2d kernel=2 ! flatten ! linear out=10' \
    'sgd lr=0.05 momentum=0.9'
