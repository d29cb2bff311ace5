#!/bin/sh
# fuzz/make-corpus.sh NNRUN - regenerates the seed corpora in fuzz/corpus
# from checkpoints that NNRUN (tools/nnrun) saves, plus fixed CSV, IDX,
# property and chain inputs. Run from the source tree.
set -eu
nnrun=$1
c=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p $c/checkpoint_load
i=0
save() { # spec...: a checkpoint, then the seeds made from it
    i=$((i + 1))
    "$nnrun" train "$@" --epochs 2 --log-every 1 --save "$tmp/$i.ckpt" >/dev/null
    # even first byte: the file as is; odd: the message without its trailer
    { printf '\000'; cat "$tmp/$i.ckpt"; } >$c/checkpoint_load/file-$i
    n=$(($(wc -c <"$tmp/$i.ckpt") - 16))
    { printf '\001'; head -c $n "$tmp/$i.ckpt"; } >$c/checkpoint_load/msg-$i
}
save
save --model 'linear out=3 ! relu ! linear out=1 ! sigmoid' --optim 'adam lr=0.01'
save --model 'linear out=4 ! tanh ! dropout p=0.2 ! linear out=1 ! sigmoid' --optim 'rmsprop'
save --model 'batchnorm1d ! linear out=1 ! sigmoid' --optim 'adagrad' --shuffle sample
# near-valid: a truncated file
head -c 100 $c/checkpoint_load/file-1 >$c/checkpoint_load/truncated

# csv: the first byte picks the properties (0 plain, 1 header and standard
# normalization, 2 classes with ';', 3 minmax); idx: 4 or 5, then the images
# file's length (2 bytes, little-endian), the images file, the labels file
d=$c/dataset
mkdir -p $d
printf '\0000.5,1.5,0\n1,2,1\n-3,4e-2,0\n' >$d/csv-plain
printf '\001a,b,y\n1,2,3\n4,5,6\n7,8,9\n' >$d/csv-header
printf '\0022;0.1;0.2\n0;1;1\n1;-1;0\n' >$d/csv-classes
printf '\0031,2,3\n4,nan,6\n' >$d/csv-nan
printf '\0031,2\n3\n' >$d/csv-ragged
# 2 images of 2x2 and 2 labels
{ printf '\004\030\000'; printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002'
  printf '\001\002\003\004\005\006\007\010'; printf '\000\000\010\001\000\000\000\002\001\011'; } >$d/idx
{ printf '\005\030\000'; printf '\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002'
  printf '\001\002\003\004\005\006\007\010'; printf '\000\000\010\001\000\000\000\003\001\011'; } >$d/idx-count-mismatch

# parse: below 128, the properties of registry component (byte % count);
# 128 and up, a chain on 4 features (byte % 3 == 0), unknown width (1), or a
# 1x6x6 image (2)
p=$c/parse
mkdir -p $p
for b in 000 001 002 003 004 005 006 007 010 011 012 013 014 015; do
    printf "\\$b%s" 'lr=0.5 momentum=0.8 out=5 in=3 p=0.2' >$p/props-$b
done
printf '\201%s' 'linear out=5 ! sigmoid ! linear out=1 ! sigmoid' >$p/chain-1
printf '\200%s' 'linear in=4 out=3 ! relu ! dropout p=0.5 ! linear out=2 ! log_softmax' >$p/chain-2
printf '\202%s' 'conv2d out=2 kernel=3 ! max_pool2d kernel=2 ! flatten ! linear out=3' >$p/chain-3
printf '\200%s' 'linear out=2 !! sigmoid' >$p/chain-bad

# roundtrip: the bytes pick layers (count, then each), the optimizer and its
# figures, epochs, batch, info (length, bytes), then the training state
r=$c/roundtrip
mkdir -p $r
printf '\002\006\001\000\011\011\002\003\000\001\002\001\003\004' >$r/relu-sgd
printf '\001\015\001\005\002\004\004abcd\002\007\000\001\001' >$r/batchnorm-adam
printf '\003\004\003\002\003\007\001\005\002\316\251\000\001\001\002\002' >$r/tanh-rmsprop-utf8
printf '\000\004\003\001\002\001\377' >$r/adagrad-info-not-utf8
printf '\002\012\005\002\011\002\012\000\002\002\001\001\001' >$r/gelu-identity-adamw

# spec: nnrun spec files ("option value" per line)
s=$c/spec
mkdir -p $s
printf '# the tutorial\ndata circle n=1200\nmodel linear out=5 ! sigmoid ! linear out=1 ! sigmoid\nloss bce\noptim sgd lr=0.5 momentum=0.8\nepochs 10\nbatch 100\nshuffle epoch\nseed 3\n' >$s/tutorial.nn
printf 'epochs -1\n' >$s/bad-epochs.nn
printf 'shuffle sometimes\n' >$s/bad-shuffle.nn
printf 'model\n' >$s/no-value.nn
printf 'schedule step_size=3 gamma=0.5\nlr-schedule warmup=2\nval-split 0.2\ninput-shape 1,28,28\nsave-every 2\nplugin-path /tmp\n' >$s/more.nn
printf 'nosuch 1\n' >$s/unknown.nn
printf 'input-shape 1x28x28\n' >$s/bad-shape.nn

# plugin_cache: a folder's plugins.cache (ABI as written by this libnn)
pc=$c/plugin_cache
mkdir -p $pc
abi=$("$nnrun" --version | sed -n 's/.*plugin ABI \([0-9.]*\)).*/\1/p')
printf 'nn-plugin-cache\t1\t%s\nplugin\tsgd.so\t34904\t1795956815234062165\t3\noptimizer\tsgd\nop\tsgd_update\nkernel\tsgd_update\tcpu\nplugin\tlinear.so\t19480\t1795956814816700094\t1\nmodule\tlinear\n' "$abi" >$pc/two
printf 'nn-plugin-cache\t1\t%s\n' "$abi" >$pc/empty
printf 'nn-plugin-cache\t1\t%s\nplugin\tx.so\t1\t2\t2\nmodule\tx\n' "$abi" >$pc/cut
printf 'nn-plugin-cache\t1\t2.2\nplugin\tx.so\t1\t2\t1\nmodule\tx\n' >$pc/old-abi
